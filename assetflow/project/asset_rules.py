"""Load-time rules the parser alone does not enforce: partition parameters used where they mean
something, and asset names SQL can write without quotes (SPEC section 8).

Each rule turns a mistake that would otherwise surface mid-run (a `$start` nothing binds) or
never (a partitioned query that gives every partition the same rows, a name no selection can
spell) into one message naming the file and line, with the fix.
"""
from __future__ import annotations

from difflib import get_close_matches
from typing import Callable, Iterable

from assetflow.assets import AssetSettings, AssetSpec, PythonBody
from assetflow.errors import ProjectError
from assetflow.project.header import Parameter
from assetflow.names import is_plain_identifier, plain_identifier
from assetflow.partitions import StaticPartitions, TimePartitions

TIME_PARAMETERS = ("start", "end", "lookback_start")
PARTITION_PARAMETERS = (*TIME_PARAMETERS, "partition")
_KNOWN = "$start, $end and $lookback_start (time partitions), $partition (the key)"


def check_parameters(settings: AssetSettings, parameters: Iterable[Parameter], path: str,
                     key_line: Callable[[str], int | None]) -> None:
    """The `$name` parameters a SQL asset uses must be ones its partitioning binds, and a
    partitioned query must use one: without it every partition would hold the same rows."""
    used = sorted(parameters, key=lambda p: (p.line or 0, p.name))
    for parameter in used:
        if parameter.name not in PARTITION_PARAMETERS:
            close = get_close_matches(parameter.name, PARTITION_PARAMETERS, n=1)
            raise ProjectError(f"unknown parameter ${parameter.name}", path=path, line=parameter.line,
                               hint=(f"did you mean ${close[0]}? " if close else "") + f"the parameters are {_KNOWN}")
    part = settings.partitioning
    if part is None and used:
        raise ProjectError(f"${used[0].name} is a partition parameter, but this asset is not partitioned",
                           path=path, line=used[0].line,
                           hint='add a header with kind = "partitioned" (partition_by, time_column, start), '
                                f"or remove ${used[0].name}")
    if isinstance(part, StaticPartitions):
        timed = [p for p in used if p.name in TIME_PARAMETERS]
        if timed:
            raise ProjectError(f"${timed[0].name} needs time partitions; static partitions bind only $partition",
                               path=path, line=timed[0].line,
                               hint=f"filter on the key: where {part.column} = $partition")
    if part is not None and not used:
        raise ProjectError("this partitioned query never uses $start, $end or $partition, so every "
                           "partition would get the same rows", path=path, line=key_line("partition_by"),
                           hint=_filter_hint(part))


def _filter_hint(part: TimePartitions | StaticPartitions) -> str:
    if isinstance(part, StaticPartitions):
        return f"filter on the partition's key: where {part.column} = $partition"
    return f"filter on $start/$end: where {part.column} >= $start and {part.column} < $end"


def check_names(specs: Iterable[AssetSpec]) -> None:
    """Schema and asset names must be letters, digits and underscores, not starting with a digit:
    anything else needs quotes in SQL and cannot be written in a selection (`my table` is two
    words there). The message says where the name comes from and suggests one."""
    for spec in specs:
        for part, value in (("schema", spec.key.schema), ("name", spec.key.name)):
            if not is_plain_identifier(value):
                raise ProjectError(f"the asset {part} '{value}' needs quoting in SQL and cannot be selected",
                                   path=spec.path, line=spec.line if isinstance(spec.body, PythonBody) else None,
                                   hint=f"{_rename_hint(spec, part, value)}: names are letters, digits and "
                                        "underscores, not starting with a digit")


def _rename_hint(spec: AssetSpec, part: str, value: str) -> str:
    better = plain_identifier(value)
    folders = spec.path.split("/")
    if isinstance(spec.body, PythonBody):
        in_folder = part == "schema" and len(folders) > 2 and folders[1].lower() == value
        return (f"rename the folder {'/'.join(folders[:2])}/ to {better}" if in_folder
                else f"write {part}=\"{better}\" in @asset")
    if part == "schema":                        # the first folder under assets/ or seeds/
        return f"rename the folder {'/'.join(folders[:2])}/ to {better}"
    stem, dot, suffix = folders[-1].rpartition(".")
    return f"rename the file to {plain_identifier(stem)}{dot}{suffix}"
