"""Which Spark errors another attempt could fix: analysis, parse and ANSI data errors (a cast that
does not convert, a division by zero) fail the same way every time; the rest (a lost executor, an
I/O error) may not."""
from __future__ import annotations

from py4j.protocol import Py4JError      # comes with pyspark; only the Spark engine imports this module

from assetflow.errors import FailureKind

_PERMANENT_CLASSES = ("AnalysisException", "ParseException", "IllegalArgumentException",
                      "ArithmeticException", "NumberFormatException", "DateTimeException",
                      "SparkNoSuchElementException", "UnsupportedOperationException",
                      "SchemaChangeError")      # assetflow's own: the columns differ from the table's
_PERMANENT_CONDITIONS = ("CAST_INVALID_INPUT", "DIVIDE_BY_ZERO", "ARITHMETIC_OVERFLOW", "INVALID_",
                         "USER_RAISED_EXCEPTION", "NUMERIC_VALUE_OUT_OF_RANGE", "DATATYPE_MISMATCH",
                         "UNRESOLVED_", "TABLE_OR_VIEW_NOT_FOUND", "PARSE_SYNTAX_ERROR")


class SparkJobCancelled(RuntimeError):
    """A build whose Spark job was cancelled (Ctrl-C, SIGTERM past its grace, a timeout): the run
    treats it as DuckDB's answer to interrupt(), not as a failure of the query."""
    is_interrupt = True


_CANCELLED = ("SPARK_JOB_CANCELLED", "cancelled part of cancelled job group",
              "cancellation of all jobs", "OPERATION_CANCELED")


def cancelled(exc: BaseException) -> bool:
    text = str(exc)[:2000]
    return any(marker.lower() in text.lower() for marker in _CANCELLED)


def failure_kind(exc: BaseException) -> FailureKind:
    names = {k.__name__ for k in type(exc).__mro__}
    if names & set(_PERMANENT_CLASSES):
        return FailureKind.PERMANENT
    condition = ""
    for attribute in ("getCondition", "getErrorClass"):
        getter = getattr(exc, attribute, None)
        if callable(getter):
            try:
                condition = getter() or ""
            except Py4JError:          # the JVM behind the exception is gone: classify by its text
                condition = ""
            break
    text = condition or str(exc)[:300]
    if any(c in text for c in _PERMANENT_CONDITIONS):
        return FailureKind.PERMANENT
    return FailureKind.TRANSIENT
