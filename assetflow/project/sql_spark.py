"""DuckDB-dialect constructs that sqlglot would hand Spark with another meaning (SPARK-FACTS section 5),
rewritten to an exact equivalent or refused with the file, line and construct.

Called by `sql` (the sqlglot wall), which passes sqlglot's expression module in: this module
imports no sqlglot itself. Each rule is checked on both engines by tests/spark/test_constructs.py.
"""
from __future__ import annotations

import functools
from typing import Any

from assetflow.errors import ProjectError

_INTEGERS = ("TINYINT", "SMALLINT", "INT", "BIGINT", "UTINYINT", "USMALLINT", "UINT", "UBIGINT")
# strftime specifiers whose Spark pattern differs (sqlglot maps %j to DD: day of month, not of year)
_STRFTIME_REFUSED = ("%j", "%U", "%W", "%w", "%u", "%V", "%G", "%g", "%C", "%e", "%-")
_DIFF_UNITS = ("DAY", "MONTH", "QUARTER", "YEAR")


@functools.cache
def spark_rules(exp) -> "SparkRules":
    return SparkRules(exp)


class SparkRules:
    def __init__(self, exp):
        self.exp = exp

    def rewrite(self, tree, dialect: str, path: str):
        """The tree with every rule applied (nodes are collected first, then replaced, innermost first)."""
        exp = self.exp
        if isinstance(tree, exp.Pivot):
            self._refuse(tree, path, "DuckDB's short PIVOT statement (PIVOT t ON c USING f)",
                         "Spark cannot parse it", "write SELECT ... FROM t PIVOT (f FOR c IN (...))")
        for node in reversed(list(tree.walk(bfs=False))):      # children before their parents
            replacement = self._rule(node, path)
            if replacement is not None and replacement is not node:
                node.replace(replacement)
        return tree

    def _rule(self, node, path: str):
        exp = self.exp
        if isinstance(node, (exp.Cast, exp.TryCast)) and self._integer_type(node.to):
            return self._integer_cast(node)
        if isinstance(node, exp.DayOfWeekIso):
            return exp.Add(this=self._call("WEEKDAY", node.this), expression=exp.Literal.number(1))
        if isinstance(node, exp.DayOfWeek):
            return exp.Paren(this=exp.Sub(this=self._call("DAYOFWEEK", node.this), expression=exp.Literal.number(1)))
        if isinstance(node, exp.Dayname):
            return self._call("DATE_FORMAT", node.this, exp.Literal.string("EEEE"))
        if isinstance(node, exp.Monthname):
            return self._call("DATE_FORMAT", node.this, exp.Literal.string("MMMM"))
        if isinstance(node, exp.RegexpReplace):
            return self._regexp_replace(node, path)
        if isinstance(node, exp.DateDiff):
            return self._date_diff(node, path)
        if isinstance(node, exp.TimeToStr):
            return self._strftime(node, path)
        if isinstance(node, (exp.Add, exp.Sub)):
            return self._interval_arithmetic(node)
        if isinstance(node, exp.TimeToUnix):
            micros = self._call("UNIX_MICROS", exp.cast(node.this, exp.DataType.build("TIMESTAMP", dialect="spark")))
            seconds = exp.cast(micros, exp.DataType.build("DOUBLE", dialect="spark"))
            return exp.Paren(this=exp.Div(this=seconds, expression=exp.Literal.number(1000000)))
        if isinstance(node, exp.Div) and not isinstance(node.this, exp.Interval):
            # DuckDB's `/` is a DOUBLE division for every numeric type; Spark's keeps DECIMALs
            return exp.Div(this=exp.cast(node.this, exp.DataType.build("DOUBLE", dialect="spark")),
                           expression=node.expression)
        if isinstance(node, exp.Round):
            return self._round(node)
        if isinstance(node, exp.PercentileCont) and not isinstance(node.parent, exp.WithinGroup):
            if not (isinstance(node.this, exp.Cast) and node.this.to.is_type("double", "float")):
                self._refuse(node, path, "quantile_cont(x, p)", "DuckDB keeps a DECIMAL x's type (rounding "
                             "the answer), Spark's percentile answers a DOUBLE",
                             "write quantile_cont(CAST(x AS DOUBLE), p): the same on both engines")
            return self._call("PERCENTILE", node.this, node.expression)
        return self._refusal(node, path)

    def _refusal(self, node, path: str):
        exp = self.exp
        if isinstance(node, exp.PercentileDisc) and not isinstance(node.parent, exp.WithinGroup):
            self._refuse(node, path, "quantile_disc(x, p)", "Spark has no two-argument form",
                         "write percentile_disc(p) WITHIN GROUP (ORDER BY x)")
        if isinstance(node, exp.UnixToTime):
            self._refuse(node, path, "epoch_ms(...)", "sqlglot turns it into TIMESTAMP_MILLIS, which reverses "
                         "its meaning for a timestamp argument", "write epoch(ts) * 1000, or make_timestamp(...)")
        if isinstance(node, exp.GenerateSeries) and isinstance(node.parent, exp.Table):
            self._refuse(node, path, "range(...)/generate_series(...) in FROM", "Spark cannot analyze the "
                         "transpiled form", "select from a small seed or an asset instead")
        if isinstance(node, exp.ReadParquet) and len(node.expressions) > 1:
            self._refuse(node, path, "read_parquet(..., options)", "Spark's parquet.`path` takes no options",
                         "declare the files as a source in assetflow.toml, or drop the options")
        if isinstance(node, exp.Pivot) and node.parent is None:
            self._refuse(node, path, "DuckDB's short PIVOT statement", "Spark cannot parse it",
                         "write SELECT ... FROM t PIVOT (agg FOR col IN (...))")
        return None

    # ------------------------------------------------------------------ rules

    def _integer_type(self, to) -> bool:
        return to is not None and to.this.name in _INTEGERS if hasattr(to.this, "name") else \
            str(to.this).split(".")[-1] in _INTEGERS

    def _integer_cast(self, node):
        """DuckDB rounds to an integer (DECIMAL half away from zero, DOUBLE half to even); Spark
        truncates. The rounding is chosen by the argument's type, which Spark knows (typeof)."""
        exp = self.exp
        arg = node.this
        if self._is_integral(arg):
            return None
        kind = type(node)
        def cast(value):
            return kind(this=value, to=node.to.copy())
        typeof = self._call("TYPEOF", arg.copy())
        floating = exp.In(this=typeof, expressions=[exp.Literal.string("double"), exp.Literal.string("float")])
        decimal = exp.Like(this=typeof.copy(), expression=exp.Literal.string("decimal%"))
        case = exp.Case(ifs=[exp.If(this=floating, true=cast(self._call("BROUND", arg.copy()))),
                             exp.If(this=decimal, true=cast(self._call("ROUND", arg.copy())))],
                        default=cast(arg.copy()))
        return exp.Paren(this=case)

    def _is_integral(self, arg) -> bool:
        exp = self.exp
        if isinstance(arg, exp.Literal):
            return arg.is_int or arg.is_string
        if isinstance(arg, (exp.Cast, exp.TryCast)):
            return self._integer_type(arg.to) or arg.to.this.name in ("TEXT", "VARCHAR", "CHAR", "BOOLEAN")
        return isinstance(arg, (exp.Predicate, exp.Not, exp.And, exp.Or, exp.Boolean, exp.Count,
                                exp.Length, exp.ArraySize))

    def _round(self, node):
        """DuckDB rounds a DOUBLE as round(x * 10^n) / 10^n (its binary value: 0.5015 -> 0.501);
        Spark rounds its shortest decimal text (0.502). The same arithmetic is exact for DECIMALs."""
        exp = self.exp
        digits = node.args.get("decimals")
        if not (isinstance(digits, exp.Literal) and digits.is_int and 0 < int(digits.name) <= 15):
            return None
        if isinstance(node.this, exp.Literal):
            return None
        scale = exp.Literal.number(10 ** int(digits.name))
        scaled = exp.Round(this=exp.Mul(this=node.this.copy(), expression=scale))
        return exp.Paren(this=exp.Div(this=scaled, expression=scale.copy()))

    def _regexp_replace(self, node, path: str):
        modifiers = node.args.get("modifiers")
        text = modifiers.name if modifiers is not None else ""
        if text == "g":
            node.set("modifiers", None)
            node.set("single_replace", None)
            return None
        self._refuse(node, path, f"regexp_replace(...{', ' + repr(text) if text else ''})",
                     "DuckDB replaces the first match only (without the 'g' flag), Spark every match"
                     if "g" not in text else f"Spark has no regexp flags ('{text}')",
                     "pass 'g' to replace every match on both engines, or anchor the pattern")

    def _date_diff(self, node, path: str):
        exp = self.exp
        unit = (node.unit.name if node.unit is not None else "DAY").upper()
        if unit not in _DIFF_UNITS:
            self._refuse(node, path, f"date_diff('{unit.lower()}', ...)", "DuckDB counts unit boundaries; "
                         "Spark's difference does not", "use date_diff('day', ...) or arithmetic on epoch(...)")
        if unit == "DAY":
            return None
        end, start = node.this, node.expression
        per = {"MONTH": 12, "QUARTER": 4, "YEAR": 1}[unit]
        def index(value):
            year = exp.Mul(this=self._call("YEAR", value.copy()), expression=exp.Literal.number(per))
            if unit == "YEAR":
                return self._call("YEAR", value.copy())
            part = self._call("MONTH" if unit == "MONTH" else "QUARTER", value.copy())
            return exp.Paren(this=exp.Add(this=year, expression=part))
        return exp.Paren(this=exp.Sub(this=index(end), expression=index(start)))

    def _strftime(self, node, path: str):
        fmt = node.args.get("format")
        text = fmt.name if fmt is not None else ""
        bad = next((s for s in _STRFTIME_REFUSED if s in text), None)
        if bad:
            self._refuse(node, path, f"strftime(..., '{text}')", f"'{bad}' has no equal Spark pattern "
                         "(sqlglot maps %j to day of month)", "use dayofyear(...), dayofweek(...) or lpad(...)")
        return None

    def _interval_arithmetic(self, node):
        """DuckDB's DATE ± INTERVAL is a TIMESTAMP; Spark's stays a DATE: make it a timestamp."""
        exp = self.exp
        left, right = node.this, node.expression
        if isinstance(right, exp.Interval) and not isinstance(left, exp.Interval):
            node.set("this", self._ntz(left))
        elif isinstance(left, exp.Interval) and isinstance(node, exp.Add) and not isinstance(right, exp.Interval):
            node.set("expression", self._ntz(right))
        return None

    def _ntz(self, value):
        exp = self.exp
        if isinstance(value, exp.Cast) and value.to.is_type("timestamp", "timestampntz"):
            return value
        return exp.cast(value, exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))

    # ------------------------------------------------------------------ helpers

    def _call(self, name: str, *args: Any):
        return self.exp.Anonymous(this=name, expressions=list(args))

    def _refuse(self, node, path: str, construct: str, why: str, hint: str) -> None:
        raise ProjectError(f"{construct} cannot run on Spark with the same meaning: {why}",
                           path=path, line=_line(self.exp, node), hint=hint)


def _line(exp, node) -> int | None:
    for candidate in (node, *node.walk()):
        if isinstance(candidate, exp.Expression) and candidate.meta.get("line"):
            return candidate.meta["line"]
    return None
