"""Render dbt Jinja with jinja2 (the only module that imports it): models, tests and YAML values,
with the project's own macros callable from all of them (and from each other)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import jinja2
from jinja2 import nodes
from jinja2.environment import TemplateModule
from jinja2.ext import Extension
from jinja2.runtime import Macro

from assetflow.dbt.context import MacroReturn, Names, RenderLog, build_context
from assetflow.dbt.report import Finding
from assetflow.errors import ProjectError


class _DbtBlocks(Extension):
    """dbt's own block tags. `{% test name(model, column_name) %}` defines the macro `test_name`,
    as dbt does; materialization, snapshot and docs bodies are parsed (so their syntax is checked)
    and dropped: they are reported from the file's text, never run."""

    tags = {"test", "materialization", "snapshot", "docs"}

    def parse(self, parser: Any) -> Any:
        token = next(parser.stream)
        if token.value == "test":
            node = nodes.Macro(lineno=token.lineno)
            node.name = "test_" + parser.parse_assign_target(name_only=True).name
            parser.parse_signature(node)
            node.body = parser.parse_statements(("name:endtest",), drop_needle=True)
            return node
        while parser.stream.current.type != "block_end":
            next(parser.stream)
        parser.parse_statements((f"name:end{token.value}",), drop_needle=True)
        return nodes.Output([], lineno=token.lineno)


@dataclass(frozen=True, slots=True)
class Rendered:
    file: str
    sql: str | None                  # None when rendering stopped at something it cannot convert
    config: Mapping[str, Any]
    refs: tuple[str, ...]
    problems: tuple[Finding, ...]


class Renderer:
    """One jinja2 environment for a project: every file's template is compiled once, and each
    render gets its own context (refs, config, problems) with the project's macros bound to it."""

    def __init__(self, texts: Mapping[str, str], macro_files: tuple[str, ...]):
        self._texts = texts
        self._env = jinja2.Environment(
            loader=jinja2.FunctionLoader(self._load), undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols", _DbtBlocks],
            keep_trailing_newline=True, cache_size=-1, autoescape=False)
        self.macro_problems: list[Finding] = []
        self._macro_templates = [t for t in (self._compile_macros(f) for f in macro_files) if t is not None]

    def _load(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        text = self._texts.get(name)
        return None if text is None else (text, name, lambda: True)

    def _compile_macros(self, rel: str) -> jinja2.Template | None:
        try:
            return self._env.get_template(rel)
        except jinja2.TemplateSyntaxError as exc:
            if "unknown tag" not in exc.message:
                raise _syntax_error(exc, rel) from None
            self.macro_problems.append(Finding(f"{rel}:{exc.lineno}", f"unknown Jinja construct: {exc.message}",
                                               "rewrite it with plain Jinja; the file's macros are not available"))
            return None

    def render(self, rel: str, names: Names, this_model: str | None = None,
               base_config: Mapping[str, Any] | None = None) -> Rendered:
        """Render the file `rel` (a model when `this_model` is given). Unconvertible constructs come
        back as problems; Jinja syntax errors and undefined vars raise ProjectError."""
        log = RenderLog(rel)
        try:
            template = self._env.get_template(rel)
        except jinja2.TemplateSyntaxError as exc:
            if "unknown tag" not in exc.message:
                raise _syntax_error(exc, rel) from None
            log.problems.append(Finding(f"{rel}:{exc.lineno}", f"unknown Jinja construct: {exc.message}",
                                        "rewrite it with plain Jinja, or port the model by hand"))
            return Rendered(rel, None, {}, (), tuple(log.problems))
        ctx = self.context(names, log, this_model, base_config or {})
        sql = self._run(lambda: template.render(ctx), log)
        return Rendered(rel, sql, dict(log.config), tuple(dict.fromkeys(log.refs)), tuple(log.problems))

    def context(self, names: Names, log: RenderLog, this_model: str | None, base_config: Mapping[str, Any]
                ) -> dict[str, Any]:
        """A fresh context with every project macro bound to it (macros see each other through it)."""
        ctx = build_context(names, log, this_model, base_config)
        for template in self._macro_templates:
            module = TemplateModule(template, template.new_context(ctx, shared=True))
            for name, value in vars(module).items():
                if isinstance(value, Macro):
                    _catch_returns(value)
                    ctx[name] = value
        return ctx

    def call(self, names: Names, log: RenderLog, macro: str, **kwargs: Any) -> str | None:
        """Call a project macro by name (a generic test's `test_x`); None if it is not defined or
        rendering failed."""
        ctx = self.context(names, log, None, {})
        if macro not in ctx:
            return None
        result = self._run(lambda: ctx[macro](**kwargs), log)
        return None if result is None else str(result)

    def render_value(self, value: Any, rel: str, line: int, names: Names) -> Any:
        """A YAML value with Jinja in it (`"{{ var('x', false) }}"`), rendered and read back as YAML
        scalars are (so `False` is a boolean again); other values pass through."""
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        from assetflow.dbt.yamlfiles import scalar
        log = RenderLog(f"{rel}:{line}")
        try:
            template = self._env.from_string(value)
        except jinja2.TemplateSyntaxError as exc:
            raise ProjectError(f"bad Jinja: {exc.message}", path=rel, line=line) from None
        text = self._run(lambda: template.render(self.context(names, log, None, {})), log)
        if text is None or log.problems:
            problem = log.problems[0] if log.problems else None
            raise ProjectError(f"cannot render {value!r}: {problem.what if problem else 'unsupported'}",
                               path=rel, line=line, hint="replace the Jinja with a plain value")
        return scalar(text.strip())

    def _run(self, action: Callable[[], Any], log: RenderLog) -> Any:
        try:
            return action()
        except (jinja2.UndefinedError, TypeError, ValueError, AttributeError, KeyError, MacroReturn) as exc:
            location = _traceback_location(exc, self._texts, log.file)
            what = f"unknown Jinja name: {exc}" if isinstance(exc, jinja2.UndefinedError) else \
                   "return() outside a macro" if isinstance(exc, MacroReturn) else f"rendering failed: {exc}"
            log.problems.append(Finding(location, what, "define it in macros/, or rewrite that part in SQL"))
            return None
        except jinja2.TemplateSyntaxError as exc:          # from a {% include %} or from_string
            raise _syntax_error(exc, log.file) from None


def _catch_returns(macro: Macro) -> None:
    """dbt macros may `{{ return(value) }}`: the call then gives that value. The catch goes on the
    macro's own body function, because a macro calling another macro of the same file reaches it
    through a closure, not through the context (jinja2 keeps the body in `Macro._func`)."""
    body = macro._func
    if getattr(body, "catches_returns", False):
        return

    def call(*args: Any) -> Any:
        try:
            return body(*args)
        except MacroReturn as returned:
            return returned.value
    call.catches_returns = True              # type: ignore[attr-defined]
    macro._func = call


def _syntax_error(exc: jinja2.TemplateSyntaxError, rel: str) -> ProjectError:
    return ProjectError(f"Jinja syntax error: {exc.message}", path=exc.name or exc.filename or rel, line=exc.lineno,
                        hint="fix the {{ }} / {% %} tags near that line")


def _traceback_location(exc: BaseException, texts: Mapping[str, str], default: str) -> str:
    """The innermost project file in the traceback (jinja2 maps template frames to file lines)."""
    found = default
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name in texts:
            found = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found
