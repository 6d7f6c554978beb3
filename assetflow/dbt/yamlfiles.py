"""dbt's YAML files read with their line numbers (the only module that imports PyYAML).

PyYAML's safe loader drops positions, but an import report must say where a test or a source was
declared. Mappings load as `YamlMap`, a dict that also remembers the line of the mapping and of
each key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assetflow.errors import ProjectError


class YamlMap(dict):
    """A YAML mapping: `line` is where it starts, `key_lines[key]` where each key is (1-based)."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


# libyaml's parser where PyYAML was built with it: 3-4x faster on a 5,000-line schema.yml
_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SAFE):  # type: ignore[misc, valid-type]
    """SafeLoader whose mappings are `YamlMap`s carrying their lines."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> YamlMap:
    loader.flatten_mapping(node)
    out = YamlMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


def read_yaml(path: Path, label: str) -> Any:
    """The document in `path` (None when empty); bad YAML is an error naming `label` and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"not UTF-8 text ({exc.reason})", path=label) from None
    return parse_yaml(text, label)


def parse_yaml(text: str, label: str) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)      # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProjectError(f"bad YAML: {problem}", path=label, line=mark.line + 1 if mark else None,
                           hint="check the indentation and quoting near that line") from None


def scalar(text: str) -> Any:
    """A `--var NAME=VALUE` value read as a YAML scalar, as dbt reads `--vars`: 3 is a number,
    true a boolean, anything that does not parse stays text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None and text.strip() not in ("null", "~") else value
