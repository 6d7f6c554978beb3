"""Python assets: import a file under assets/, find its @asset functions, read their signatures.

Each file is imported under its own private module name, so two files with the same stem never
collide and nothing leaks into the user's namespace.
"""
from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.util
import inspect
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

from assetflow.project import fingerprint
from assetflow.asset_settings import parse_settings
from assetflow.assets import (AssetContext, AssetDecl, AssetKey, AssetSpec, Kind, PythonBody, Reference,
                              exception_names)
from assetflow.errors import FailureKind, ProjectError

MODULE_PREFIX = "assetflow_user_assets"


def load_python_file(path: Path, rel: str, schema: str) -> Iterator[tuple[AssetSpec, Callable[..., Any]]]:
    """The @asset functions of one file; `rel` is its path as messages show it, `schema` the
    schema its assets default to (both decided by the loader, the one owner of those rules)."""
    module = _import(path, rel)
    for attr in sorted(vars(module)):
        decl = getattr(getattr(module, attr), "__assetflow__", None)
        if not isinstance(decl, AssetDecl) or getattr(decl.function, "__module__", None) != module.__name__:
            continue
        yield _spec(decl, module.__name__, rel, schema), decl.function


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the file as it is now, never through `__pycache__`: Python trusts a cached .pyc
    while the source's size and whole-second mtime match it, so an edit of equal length within
    the same second (`"staging.a"` -> `"staging.b"`, a saved digit in `assetflow dev`) would run
    the old code under the new code version."""

    def get_code(self, fullname: str):
        return self.source_to_code(self.get_data(self.path), self.path)


def _import(path: Path, rel: str):
    name = f"{MODULE_PREFIX}.{rel[:-3].replace('/', '.').replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, path, loader=_SourceLoader(name, str(path)))
    if spec is None or spec.loader is None:
        raise ProjectError("cannot import this Python file", path=rel)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code: report where in *their* file it broke
        sys.modules.pop(name, None)
        line = _line_in_file(exc, path)
        raise ProjectError(f"importing this file failed: {type(exc).__name__}: {exc}", path=rel, line=line,
                           hint="fix the error; asset files are imported when the project loads") from None
    return module


def _line_in_file(exc: BaseException, path: Path) -> int | None:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return frames[-1].lineno if frames else None


def _spec(decl: AssetDecl, module: str, rel: str, folder_schema: str) -> AssetSpec:
    function = decl.function
    line = inspect.getsourcelines(function)[1] if _has_source(function) else 1
    settings = parse_settings(decl.settings, path=rel, line=line)
    if settings.description is None and inspect.getdoc(function):
        # as in Dagster: the docstring documents the asset unless `description=` says otherwise
        settings = dataclasses.replace(settings, description=inspect.getdoc(function))
    explicit, ordering = _split_deps(decl.deps, rel, line)
    params, context_param, references = [], None, []
    for param in inspect.signature(function).parameters.values():
        if param.name == "context" or param.annotation in (AssetContext, "AssetContext"):
            context_param = param.name
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ProjectError(f"@asset {function.__name__} takes *args/**kwargs; name each upstream",
                               path=rel, line=line)
        params.append(param.name)
        target = explicit.get(param.name)
        parts = tuple(target.split(".")) if target else tuple(param.name.split("__", 1))
        references.append(Reference(parts=parts, line=line, param=param.name))
    references += [Reference(parts=tuple(d.split(".")), line=line) for d in ordering]
    unknown = set(explicit) - set(params)
    if unknown:
        raise ProjectError(f"deps names parameters that {function.__name__} does not have: {sorted(unknown)}",
                           path=rel, line=line)
    if settings.kind is Kind.VIEW:
        raise ProjectError("a Python asset cannot be a view", path=rel, line=line,
                           hint='use kind = "table" or "partitioned"')
    key = AssetKey.of(decl.schema or folder_schema, decl.name or function.__name__)
    return AssetSpec(
        key=key, settings=settings,
        body=PythonBody(module=module, function=function.__name__, params=tuple(params),
                        context_param=context_param),
        path=rel, line=line, references=tuple(references),
        code_version=fingerprint.python_code_version(function, settings, decl.code_version,
                                                     deps=repr(sorted(explicit.items())) + repr(ordering)))


def _split_deps(deps: Any, rel: str, line: int) -> tuple[dict[str, str], tuple[str, ...]]:
    if deps is None:
        return {}, ()
    if isinstance(deps, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in deps.items()):
        return dict(deps), ()
    if isinstance(deps, (list, tuple)) and all(isinstance(d, str) for d in deps):
        return {}, tuple(deps)
    raise ProjectError(f"deps must be a dict {{param: 'schema.name'}} or a list of names, not {deps!r}",
                       path=rel, line=line)


def _has_source(function: Callable[..., Any]) -> bool:
    try:
        inspect.getsourcelines(function)
        return True
    except (OSError, TypeError):
        return False


# ---------------------------------------------------------------------------- calling an asset

class UserCodeError(Exception):
    """A Python asset raised or returned something unusable.

    What the function raised may pass on the next attempt (a flaky API), so it is transient, and
    `error_names` lets the asset's `retry_on` narrow that; an unusable return value is permanent.
    The message (`summary`) is what run output, --json and alerts show: the error's own lines and
    the frames of the user's project files. `full` is stored with the attempt (`runs show`): every
    frame from the asset function down, the libraries' included.
    """

    def __init__(self, message: str, failure_kind: FailureKind = FailureKind.TRANSIENT,
                 error_names: tuple[str, ...] = (), full: str | None = None):
        super().__init__(message)
        self.failure_kind = failure_kind
        self.error_names = error_names
        self.summary = message
        self.full = full or message


def call_asset(function: Callable[..., Any], spec: AssetSpec, inputs: dict[str, Any],
               context: AssetContext | None, root: Path):
    """Call the user's function and return its output as a pyarrow Table."""
    body = spec.body
    assert isinstance(body, PythonBody)
    kwargs = dict(inputs)
    if body.context_param is not None:
        kwargs[body.context_param] = context
    try:
        result = function(**kwargs)
    except (Exception, SystemExit) as exc:  # user code may even call sys.exit(): only its partition fails
        summary, full = describe_failure(exc, function, root)
        raise UserCodeError(summary, error_names=exception_names(type(exc)), full=full) from None
    return to_arrow(result, spec)


def to_arrow(result: Any, spec: AssetSpec):
    import pyarrow as pa
    if isinstance(result, pa.Table):
        return result
    if isinstance(result, pa.RecordBatchReader):
        return result.read_all()
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    for method in ("to_arrow_table", "to_arrow"):              # DuckDB relations, polars frames
        convert = getattr(result, method, None)
        if callable(convert) and type(result).__module__.split(".")[0] in ("duckdb", "_duckdb", "polars"):
            table = convert()
            return table.read_all() if isinstance(table, pa.RecordBatchReader) else table
    if type(result).__module__.split(".")[0] == "pandas" and type(result).__name__ == "DataFrame":
        return pa.Table.from_pandas(_with_index_columns(result, spec), preserve_index=False)
    body = spec.body
    raise UserCodeError(
        f"{body.function}() in {spec.path} returned {type(result).__module__}.{type(result).__qualname__}; "
        "return a pyarrow Table, a DuckDB relation, or a pandas/polars DataFrame", FailureKind.PERMANENT)


def _with_index_columns(frame, spec: AssetSpec):
    """A DataFrame's index levels that hold data become its first columns, as `reset_index()` makes
    them: a named level (what `groupby`, `set_index`, `pivot_table` leave), or an unnamed one of
    labels (dates, text) as `index`. An unnamed integer index holds positions (a RangeIndex, or
    what filtering and sorting leave) and is dropped, as pyarrow drops a RangeIndex."""
    index = frame.index
    keep = [i for i, name in enumerate(index.names)
            if name is not None or index.get_level_values(i).dtype.kind not in "iu"]
    if not keep:
        return frame
    try:
        return frame.reset_index(level=keep)
    except ValueError as exc:            # a level named like a column: "cannot insert id, already exists"
        body = spec.body
        raise UserCodeError(f"{getattr(body, 'function', '?')}() in {spec.path} returned a DataFrame whose index "
                            f"cannot become columns: {exc}; rename the index level or drop it "
                            "(reset_index(drop=True))", FailureKind.PERMANENT) from None


def describe_failure(exc: BaseException, function: Callable[..., Any], root: Path) -> tuple[str, str]:
    """(summary, full) of an exception raised by an asset function; see UserCodeError."""
    frames = traceback.extract_tb(exc.__traceback__)
    user_file = inspect.getsourcefile(function) or ""
    start = next((i for i, f in enumerate(frames) if f.filename == user_file), 0)
    frames = frames[start:]                        # the asset function down: no assetflow frames
    error = "\n".join([f"{type(exc).__name__}: {exc}".strip(), *getattr(exc, "__notes__", ())])
    mine = [f for f in frames if _is_project_file(f.filename, root)]
    summary = error + ("\nTraceback (most recent call last, project files only):\n" + _frames_text(mine, root)
                       if mine else "")
    full = error + "\nTraceback (most recent call last, from the asset function):\n" + _frames_text(frames, root)
    return summary, full


def _is_project_file(filename: str, root: Path) -> bool:
    """A file of the user's project: under its root, and not a library (a virtualenv may live in
    the project folder too)."""
    path = Path(filename)
    if not path.is_absolute() or not path.is_relative_to(root):
        return False
    libraries = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return not any(path.is_relative_to(lib) for lib in libraries) and not (
        {"site-packages", "dist-packages"} & set(path.parts))


def _frames_text(frames: list[traceback.FrameSummary], root: Path) -> str:
    lines = []
    for frame in frames:
        path = Path(frame.filename)
        shown = path.relative_to(root).as_posix() if path.is_absolute() and path.is_relative_to(root) else frame.filename
        lines.append(f'  File "{shown}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the asset's log

class AssetLog(logging.Handler):
    """`context.log` of one attempt: INFO and above, each line prefixed with the time (UTC), the
    level, the asset and its partition, with the project's secrets masked; the lines are kept for
    the attempt's record and handed to `echo` as they come (the CLI prints them on stderr).

    The logger is made per attempt and kept out of logging's registry, so attempts running in
    parallel never share lines. It does not propagate: `echo` is where the lines go (a program
    using the library passes `RunEvents.on_log`), and the CLI's own handler on `assetflow` would
    print them a second time, bare."""

    def __init__(self, asset: str, partition: str | None, echo: Callable[[str], None] = lambda line: None,
                 mask: Callable[[str], str] = lambda text: text):
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self._echo, self._mask = echo, mask
        where = asset + (f" [{partition}]" if partition else "")
        self.setFormatter(_UtcFormatter(f"%(asctime)s %(levelname)s {where.replace('%', '%%')}: %(message)s"))
        self.logger = logging.Logger(f"assetflow.asset.{asset}", logging.INFO)
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self._mask(self.format(record))
        except Exception:  # a bad format string in user code must not fail the asset
            self.handleError(record)
            return
        self.lines.append(line)
        self._echo(line)


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
