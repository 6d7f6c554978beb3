"""Permanent errors are not retried; transient ones are, narrowed by `retry_on` (SPEC sections 6, 8).

An unknown column with `retries = 3` used to be attempted four times with backoff before the run
reported what was clear from the first attempt.
"""
from __future__ import annotations

import re
import textwrap

import pytest

from conftest import query
from helpers import PY_TRACEBACK, materialize, ok, run_show

PERMANENT = "(not retried: permanent)"


def result(res: dict, asset: str) -> dict:
    return next(x for x in res["results"] if x["asset"] == asset)


def attempts_of(af, p, run_id: str, asset: str) -> list[dict]:
    return [a for a in run_show(af, p, run_id)["attempts"] if a["asset"] == asset]


def test_an_unknown_column_is_attempted_once_despite_retries(af, project):
    p = project({"assets/bad.sql": "/* assetflow\nretries = 3\nretry_delay = 2\n*/\nselect nope from range(3)\n",
                 "assets/fine.sql": "select 1 as one\n"})
    res = materialize(af, p, expect=1)
    bad = result(res, "main.bad")
    assert (bad["status"], bad["attempts"]) == ("failed", 1)
    assert "nope" in bad["error"] and bad["error"].endswith(PERMANENT)
    assert result(res, "main.fine")["status"] == "success"
    recorded = attempts_of(af, p, res["run_id"], "main.bad")
    assert [(a["attempt"], a["status"]) for a in recorded] == [(1, "failed")]
    assert PERMANENT in recorded[0]["error"]
    text = ok(af(p, "materialize"), 1)
    assert "main.bad after 1 attempt(s)" in text.stdout and PERMANENT in text.stdout


def test_a_wrong_return_type_is_permanent(af, project):
    p = project({"assets/py.py": """
        from assetflow import asset


        @asset(retries=2, retry_delay=2)
        def returns_dict():
            return {"a": [1]}
        """})
    bad = result(materialize(af, p, expect=1), "main.returns_dict")
    assert bad["attempts"] == 1
    assert "returned builtins.dict" in bad["error"] and bad["error"].endswith(PERMANENT)


FLAKY = """
    import http.client
    from pathlib import Path

    import pyarrow as pa
    from assetflow import asset

    COUNTER = Path(__file__).resolve().parents[1] / "calls.txt"


    class ApiDown(ConnectionError):
        '''What a client library raises: a subclass of a standard error.'''


    @asset(retries=3, retry_delay=0.05, {retry_on})
    def feed():
        calls = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
        COUNTER.write_text(str(calls))
        if calls <= 2:
            raise {error}(f"call {{calls}} failed")
        return pa.table({{"call": [calls]}})
    """


def flaky(project, retry_on: str, error: str):
    return project({"assets/feed.py": textwrap.dedent(FLAKY.format(retry_on=retry_on, error=error))})


@pytest.mark.parametrize("retry_on,error", [
    ('retry_on=["ConnectionError"]', "ApiDown"),                        # a base class, by name
    ("retry_on=[TimeoutError, ConnectionError]", "ApiDown"),            # classes, in the decorator
    ('retry_on=["ApiDown"]', "ApiDown"),                                # the class itself
    ('retry_on=["http.client.RemoteDisconnected"]', "http.client.RemoteDisconnected"),   # module.name
])
def test_an_error_named_in_retry_on_is_retried_matching_along_the_mro(af, project, retry_on, error):
    p = flaky(project, retry_on, error)
    feed = result(materialize(af, p), "main.feed")
    assert (feed["status"], feed["attempts"]) == ("success", 3)
    assert query(p, "select call from main.feed") == [(3,)]


def test_an_error_not_in_retry_on_is_not_retried(af, project):
    p = flaky(project, "retry_on=[TimeoutError]", "ValueError")
    res = materialize(af, p, expect=1)
    feed = result(res, "main.feed")
    assert (feed["status"], feed["attempts"]) == ("failed", 1)
    assert "ValueError: call 1 failed" in feed["error"]
    assert feed["error"].endswith("(not retried: ValueError is not in retry_on)")
    assert (p / "calls.txt").read_text() == "1"


def test_without_retry_on_whatever_a_python_asset_raises_is_retried(af, project):
    p = flaky(project, 'tags=["x"]', "ValueError")
    feed = result(materialize(af, p), "main.feed")
    assert (feed["status"], feed["attempts"]) == ("success", 3)


@pytest.mark.parametrize("value,needle", [
    ('"ConnectionError"', "must be list"),
    ('["not a class"]', "exception class names"),
    ("[]", "empty"),
    ("[1]", "exception class names"),
])
def test_a_bad_retry_on_is_an_error_at_load(af, project, value, needle):
    p = project({"assets/x.sql": f"/* assetflow\nretries = 2\nretry_on = {value}\n*/\nselect 1 as one\n"})
    r = af(p, "status")
    assert r.exit_code == 2, r.output
    assert re.search(r"assets/x\.sql:\d+", r.output) and "retry_on" in r.output and needle in r.output, r.output
    assert PY_TRACEBACK not in r.output


def test_retry_on_in_a_decorator_is_validated_at_load(af, project):
    p = project({"assets/py.py": """
        import pyarrow as pa
        from assetflow import asset


        @asset(retry_on=[len])
        def x():
            return pa.table({"a": [1]})
        """})
    r = af(p, "status")
    assert r.exit_code == 2, r.output
    assert "assets/py.py" in r.output and "retry_on" in r.output and PY_TRACEBACK not in r.output
