"""Writing the converted project: never into a non-empty folder without `force`, never over the
dbt project itself."""
from __future__ import annotations

import shutil
from pathlib import Path

from assetflow.dbt.layout import Output
from assetflow.dbt.report import to_markdown
from assetflow.errors import UsageError

REPORT_FILE = "IMPORT_REPORT.md"
# what an import writes; --force replaces these and leaves anything else (a warehouse, data/) alone
OWNED = ("assets", "seeds", "checks", "assetflow.toml", REPORT_FILE)


def check_out_dir(out: Path, dbt_root: Path, force: bool) -> None:
    """OUT_DIR must be new or empty (or `force`), and neither the dbt project nor a folder above it."""
    resolved, source = out.resolve(), dbt_root.resolve()
    if resolved == source or source.is_relative_to(resolved):
        raise UsageError(f"OUT_DIR {out} would overwrite the dbt project in {dbt_root}",
                         hint="write the assetflow project into a new folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"OUT_DIR {out} is a file", hint="give a folder that does not exist yet")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"OUT_DIR {out} is not empty",
                         hint="pass --force to replace its assets/, seeds/, checks/ and assetflow.toml, "
                              "or give a new folder")


def write_output(out: Path, output: Output) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for owned in OWNED:
        target = out / owned
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    for rel, text in sorted(output.files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for rel, source in sorted(output.copies.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
    (out / REPORT_FILE).write_text(to_markdown(output.report), encoding="utf-8")
