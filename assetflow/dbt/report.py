"""What an import did: converted models, seeds, sources and checks, and what it could not convert."""
from __future__ import annotations

from dataclasses import dataclass

SKIPPED = "skipped"      # the model (or test) was not converted
DROPPED = "dropped"      # converted, without this part
NOTE = "note"            # converted; worth a look


@dataclass(frozen=True, slots=True)
class Finding:
    location: str        # file:line in the dbt project
    what: str
    suggestion: str
    effect: str = SKIPPED


@dataclass(frozen=True, slots=True)
class ConvertedModel:
    model: str           # the dbt model name
    source_file: str     # relative to the dbt project
    asset: str           # schema.name in the assetflow project
    out_file: str        # relative to OUT_DIR
    materialized: str    # dbt's materialization
    kind: str            # table | view | partitioned
    checks: int


@dataclass(frozen=True, slots=True)
class ImportReport:
    project: str
    dbt_dir: str
    out_dir: str
    models: tuple[ConvertedModel, ...]
    seeds: tuple[tuple[str, str], ...]          # (seed file, asset)
    sources: tuple[tuple[str, str], ...]        # (dbt source.table, assetflow source)
    custom_checks: tuple[tuple[str, str], ...]  # (what it checks, checks/ file)
    findings: tuple[Finding, ...]

    @property
    def skipped(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.effect == SKIPPED)

    @property
    def header_checks(self) -> int:
        return sum(m.checks for m in self.models)

    def summary(self) -> str:
        """One line: what was converted and how much was not."""
        return (f"Imported dbt project {self.project}: {len(self.models)} model(s), {len(self.seeds)} seed(s), "
                f"{len(self.sources)} source(s), {self.header_checks + len(self.custom_checks)} check(s); "
                f"{len(self.skipped)} item(s) not converted, "
                f"{len(self.findings) - len(self.skipped)} note(s). Report: {self.out_dir}/IMPORT_REPORT.md")


def to_markdown(report: ImportReport) -> str:
    lines = [f"# Import of dbt project `{report.project}`", "",
             f"From `{report.dbt_dir}` into `{report.out_dir}`.", "", report.summary(), ""]
    lines += _findings_section("Not converted", [f for f in report.findings if f.effect == SKIPPED])
    lines += _findings_section("Converted without a part", [f for f in report.findings if f.effect == DROPPED])
    lines += _findings_section("Notes", [f for f in report.findings if f.effect == NOTE])
    lines += ["## Models", "", "| dbt model | file | asset | dbt materialization | kind | checks |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {m.model} | `{m.source_file}` | `{m.asset}` ({m.out_file}) | {m.materialized} | {m.kind} | {m.checks} |"
              for m in report.models]
    lines += ["", "## Seeds", ""] + [f"- `{src}` -> `{asset}`" for src, asset in report.seeds]
    lines += ["", "## Sources", ""] + [f"- `{src}` -> `{name}`" for src, name in report.sources]
    lines += ["", "## Custom checks", ""] + [f"- {what}: `{file}`" for what, file in report.custom_checks]
    return "\n".join(lines).rstrip() + "\n"


def _findings_section(title: str, findings: list[Finding]) -> list[str]:
    if not findings:
        return []
    out = [f"## {title}", "", "| where | what | suggestion |", "|---|---|---|"]
    out += [f"| `{f.location}` | {_cell(f.what)} | {_cell(f.suggestion)} |" for f in findings]
    return out + [""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_text(report: ImportReport) -> str:
    """The printed report: the summary, then what was not converted (notes are in the file)."""
    lines = [report.summary()]
    for finding in report.findings:
        if finding.effect == NOTE:
            continue
        lines.append(f"  {finding.effect:<8} {finding.location}: {finding.what}")
        lines.append(f"           -> {finding.suggestion}")
    return "\n".join(lines)
