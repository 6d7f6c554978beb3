"""Size limits of the package (docs/design.md, "Layering rules"): no module over 400 lines, no
function over 60. A unit that outgrows them is split along a seam, not in arbitrary halves."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "assetflow"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    # the UI's vendored JavaScript is no Python; the project template holds user-facing examples
    return sorted(p for p in PACKAGE.rglob("*.py") if "template" not in p.relative_to(PACKAGE).parts)


def test_the_walk_sees_the_package():
    assert PACKAGE / "api.py" in modules() and PACKAGE / "engines" / "duckdb.py" in modules()


def test_no_module_is_over_400_lines():
    long = [f"{p.relative_to(PACKAGE.parent)}: {n} lines" for p in modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, "modules over 400 lines: " + "; ".join(long)


def test_no_function_is_over_60_lines():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {lines} lines")
    assert not long, "functions over 60 lines: " + "; ".join(long)
