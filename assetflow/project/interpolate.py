"""`${VAR}` and `${VAR:-default}` in the string values of assetflow.toml, and the masks that keep
what came from the environment (and every alert destination) out of printed messages.

Pure: the environment is a mapping passed in (only `config` reads `os.environ`).

Grammar, as in a POSIX shell and docker compose: `${NAME}` is the variable's value (an error
when it is not set); `${NAME:-default}` is the default when the variable is unset *or empty*;
`$$` is one literal `$`. A `$` followed by anything else stays as it is, so a `command` alert can
still use the shell's own `$HOME`. The default is taken literally (no nesting).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from assetflow.errors import ProjectError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MASK = "***"
# A value shorter than this is never a secret, and masking it would garble unrelated output
# (an environment value "1" would turn every 1 in a message into ***).
MIN_MASKED_LENGTH = 4

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Expanded:
    """The TOML tree with every string expanded, and what the environment contributed."""

    value: Any
    env_values: tuple[str, ...] = ()                               # every value taken from the environment
    variables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # key -> variables it names

    def variables_of(self, key: str) -> tuple[str, ...]:
        return self.variables.get(key, ())


def expand_tree(raw: Any, environ: Mapping[str, str], text: str, path: str) -> Expanded:
    """Expand every string value of a parsed TOML tree (tables, arrays, inline tables, any depth).

    `text` is the file's text, used to point at the line of a reference that cannot be expanded;
    `path` is the file name errors carry.
    """
    env_values: list[str] = []
    variables: dict[str, tuple[str, ...]] = {}

    def walk(value: Any, key: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*key, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*key, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            expanded, used, taken = expand_string(value, environ, key_name(key), text, path)
            env_values.extend(taken)
            if used:
                variables[key_name(key)] = used
            return expanded
        return value

    return Expanded(walk(raw, ()), tuple(dict.fromkeys(env_values)), variables)


def expand_string(value: str, environ: Mapping[str, str], key: str, text: str = "", path: str | None = None
                  ) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(expanded value, variables it names, values taken from the environment).

    >>> expand_string("a${X}b$$c${Y:-d}", {"X": "1"}, "k")[0]
    'a1b$cd'
    """
    out: list[str] = []
    used: list[str] = []
    taken: list[str] = []
    i = 0
    while i < len(value):
        start = value.find("$", i)
        if start < 0 or start == len(value) - 1:
            out.append(value[i:])
            break
        out.append(value[i:start])
        follower = value[start + 1]
        if follower == "$":
            out.append("$")
            i = start + 2
            continue
        if follower != "{":
            out.append("$")
            i = start + 1
            continue
        end = value.find("}", start)
        if end < 0:
            raise _bad_reference(key, value[start:start + 20], "is not closed with '}'", text, path)
        name, has_default, default = value[start + 2:end].partition(":-")
        if not _NAME.fullmatch(name):
            raise _bad_reference(key, value[start:end + 1], "is not ${NAME} or ${NAME:-default}", text, path)
        used.append(name)
        found = environ.get(name)
        if found is None and not has_default:
            raise ProjectError(f"{key} uses ${{{name}}}, but the environment variable {name} is not set",
                               path=path, line=line_of_text(text, "${" + name),
                               hint=f"export {name}=..., or give a default: ${{{name}:-value}}")
        if found is not None and (found or not has_default):
            out.append(found)
            if found:
                taken.append(found)
        else:
            out.append(default)
        i = end + 1
    return "".join(out), tuple(dict.fromkeys(used)), tuple(taken)


def _bad_reference(key: str, snippet: str, problem: str, text: str, path: str | None) -> ProjectError:
    # The snippet is the file's own text (a reference, not a value from the environment).
    return ProjectError(f"{key}: '{snippet}' {problem}", path=path, line=line_of_text(text, snippet),
                        hint="write ${NAME} or ${NAME:-default}; $$ is a literal $")


def key_name(key: KeyPath) -> str:
    """The dotted name of a TOML key path, as a user would write it.

    >>> key_name(("alerts", "on_failure", 0, "slack"))
    'alerts.on_failure[0].slack'
    >>> key_name(("sources", "raw.events", "path"))
    'sources."raw.events".path'
    """
    parts: list[str] = []
    for part in key:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            bare = re.fullmatch(r"[A-Za-z0-9_-]+", part)
            parts.append(("." if parts else "") + (part if bare else f'"{part}"'))
    return "".join(parts)


def line_of_text(text: str, needle: str) -> int | None:
    at = text.find(needle) if needle else -1
    return text.count("\n", 0, at) + 1 if at >= 0 else None


# ------------------------------------------------------------------------------ masks


@dataclass(frozen=True, slots=True)
class Masks:
    """Replaces secrets in a message: environment values by ***, destination URLs by their
    scheme and host (`https://hooks.slack.com/***`), routing keys by ***.

    Longest secret first, so a URL that contains an environment value keeps its host.
    """

    pairs: tuple[tuple[str, str], ...] = ()

    def mask(self, text: str) -> str:
        for secret, replacement in self.pairs:
            if secret in text:
                text = text.replace(secret, replacement)
        return text

    def __bool__(self) -> bool:
        return bool(self.pairs)


def build_masks(env_values: tuple[str, ...] = (), urls: tuple[str, ...] = (), keys: tuple[str, ...] = ()) -> Masks:
    pairs: dict[str, str] = {}
    for value in env_values + keys:
        if len(value) >= MIN_MASKED_LENGTH:
            pairs[value] = MASK
    for url in urls:
        if len(url) >= MIN_MASKED_LENGTH:
            pairs[url] = mask_url(url)
    return Masks(tuple(sorted(pairs.items(), key=lambda p: (-len(p[0]), p[0]))))


def mask_url(url: str) -> str:
    """Scheme and host of a URL, never its user, path or query (where webhook secrets live).

    >>> mask_url("https://hooks.slack.com/services/T0/B0/XXXX")
    'https://hooks.slack.com/***'
    >>> mask_url("http://user:pw@127.0.0.1:8080/hook?token=1")
    'http://127.0.0.1:8080/***'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    return f"{parts.scheme}://{host}{port}/{MASK}"

