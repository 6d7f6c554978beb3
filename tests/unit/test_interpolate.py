"""`${VAR}` / `${VAR:-default}` / `$$` in assetflow.toml values, and the masks (SPEC section 13)."""
from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow.errors import ProjectError
from assetflow.project.interpolate import MASK, build_masks, expand_string, expand_tree, key_name, mask_url

ENV = {"HOST": "db.internal", "EMPTY": "", "TOKEN": "s3cr3t-token"}


def expand(value: str, env=ENV) -> str:
    return expand_string(value, env, "k")[0]


@pytest.mark.parametrize("value, expected", [
    ("plain", "plain"),
    ("${HOST}", "db.internal"),
    ("https://${HOST}:8080/x", "https://db.internal:8080/x"),
    ("${MISSING:-fallback}", "fallback"),
    ("${HOST:-fallback}", "db.internal"),
    ("${EMPTY:-fallback}", "fallback"),          # `:-` also replaces an empty value, as in a shell
    ("${EMPTY}", ""),                            # set but empty, no default: empty
    ("${MISSING:-}", ""),
    ("${MISSING:-a:-b}", "a:-b"),                # the default is literal
    ("cost $$5", "cost $5"),
    ("$${HOST}", "${HOST}"),                     # an escaped reference is not expanded
    ("$$$${HOST}", "$${HOST}"),
    ("echo $HOME and $1", "echo $HOME and $1"),  # a bare $ stays for the shell
    ("trailing $", "trailing $"),
    ("${HOST}${HOST}", "db.internaldb.internal"),
])
def test_expansion(value, expected):
    assert expand(value) == expected


def test_what_the_environment_contributed_is_reported():
    _, used, taken = expand_string("${HOST}/${EMPTY}/${MISSING:-d}/${TOKEN}", ENV, "k")
    assert used == ("HOST", "EMPTY", "MISSING", "TOKEN")
    assert taken == ("db.internal", "s3cr3t-token")       # defaults and empty values are not secrets


def test_a_missing_variable_names_the_key_the_variable_and_the_line():
    text = '[alerts]\non_failure = [\n  { webhook = "https://x" },\n  { slack = "${SLACK_URL}" },\n]\n'
    with pytest.raises(ProjectError) as caught:
        expand_tree(tomllib.loads(text), {}, text, "assetflow.toml")
    error = caught.value
    assert "alerts.on_failure[1].slack" in error.message and "SLACK_URL" in error.message
    assert (error.path, error.line) == ("assetflow.toml", 4)
    assert "${SLACK_URL:-" in error.hint


@pytest.mark.parametrize("value, needle", [("x${HOST", "${HOST"), ("${1BAD}", "${1BAD}"), ("${A-b}", "${A-b}"),
                                           ("${}", "${}"), ("${A B}", "${A B}")])
def test_a_malformed_reference_is_an_error(value, needle):
    with pytest.raises(ProjectError) as caught:
        expand_string(value, ENV, "project.name")
    assert "project.name" in caught.value.message and needle in caught.value.message
    assert "$$" in caught.value.hint


def test_every_string_at_every_depth_is_expanded_and_nothing_else():
    text = """
    [project]
    name = "${HOST}"
    retries = 3
    [targets.dev]
    path = "${DIR:-data}/w.duckdb"
    [sources]
    "raw.events" = { path = "${HOST}/*.csv" }
    [alerts]
    on_failure = [ { command = "notify $$USER ${TOKEN}" } ]
    on_recovery = false
    """
    raw = tomllib.loads(text)
    result = expand_tree(raw, ENV, text, "assetflow.toml")
    assert result.value == {
        "project": {"name": "db.internal", "retries": 3},
        "targets": {"dev": {"path": "data/w.duckdb"}},
        "sources": {"raw.events": {"path": "db.internal/*.csv"}},
        "alerts": {"on_failure": [{"command": "notify $USER s3cr3t-token"}], "on_recovery": False},
    }
    assert raw["project"]["name"] == "${HOST}"                    # the parsed tree is not changed
    assert result.env_values == ("db.internal", "s3cr3t-token")
    assert result.variables_of('sources."raw.events".path') == ("HOST",)
    assert result.variables_of("alerts.on_failure[0].command") == ("TOKEN",)
    assert result.variables_of("project.retries") == ()


def test_key_names():
    assert key_name(("alerts", "on_failure", 2, "pagerduty")) == "alerts.on_failure[2].pagerduty"
    assert key_name(("targets", "prod", "path")) == "targets.prod.path"
    assert key_name(("sources", "raw.x", "path")) == 'sources."raw.x".path'
    assert key_name(("a", 0, 1)) == "a[0][1]"


@given(st.text())
def test_doubling_every_dollar_gives_the_text_back(text):
    assert expand_string(text.replace("$", "$$"), {}, "k")[0] == text


@given(st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), st.text(max_size=20), max_size=4),
       st.lists(st.text(alphabet="ab $", max_size=6), max_size=4))
def test_references_expand_to_the_environment_values(env, literals):
    names = sorted(env)
    template = "".join(lit.replace("$", "$$") + "${" + name + "}" for lit, name in zip(literals, names))
    expected = "".join(lit + env[name] for lit, name in zip(literals, names))
    assert expand_string(template, env, "k")[0] == expected


# ------------------------------------------------------------------------------ masks


def test_masks_hide_environment_values_urls_and_keys():
    slack = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"
    key = "0123456789abcdef0123456789abcdef"
    masks = build_masks(("s3cr3t-token", "XXXXXXXX", "1"), (slack,), (key,))
    text = f"posting to {slack} with {key} and s3cr3t-token failed; 1 retry"
    masked = masks.mask(text)
    assert masked == f"posting to https://hooks.slack.com/{MASK} with {MASK} and {MASK} failed; 1 retry"
    assert masks.mask(f"path XXXXXXXX") == f"path {MASK}"        # the secret part alone is masked too
    assert not build_masks() and build_masks() .mask("as is") == "as is"


@pytest.mark.parametrize("url, shown", [
    ("https://hooks.slack.com/services/T/B/X", f"https://hooks.slack.com/{MASK}"),
    ("http://user:pw@127.0.0.1:8080/hook?token=1", f"http://127.0.0.1:8080/{MASK}"),
    ("http://[::1]:9000/x", f"http://[::1]:9000/{MASK}"),
    ("not a url", MASK),
    ("http://[broken/x", MASK),
])
def test_mask_url_keeps_scheme_and_host_only(url, shown):
    assert mask_url(url) == shown
