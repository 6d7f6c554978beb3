"""Generate a dbt project of N models and time `import-dbt` on it.

    python benchmarks/gen_dbt_project.py                  # 500 models: generate, import, print the time
    python benchmarks/gen_dbt_project.py --models 1000 --keep /tmp/big_dbt

The project looks like a real one grown large: 4 seeds and a source; per model a folder
(staging / intermediate / marts, 50 models a folder), a `config()` block, refs to one to three
earlier models, project macros (one dispatching, one calling another), a `{% for %}` loop over a
`{% set %}` list, `var()` and `env_var()`; every fifth model is incremental with an
`is_incremental()` filter (and `begin`), every seventh a view. Each model has a schema.yml entry with not_null,
unique and accepted_values tests, every third a relationships test to its first upstream. Deterministic (no randomness).
Standard library only, plus assetflow itself for the import.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("staging", "intermediate", "marts")

MACROS = """\
{% macro cents_to_dollars(column_name) -%}
    {{ return(adapter.dispatch('cents_to_dollars')(column_name)) }}
{%- endmacro %}

{% macro default__cents_to_dollars(column_name) -%}
    ({{ column_name }} / 100)::numeric(16, 2)
{%- endmacro %}

{% macro label(column) -%}
    upper({{ column }}) || '{{ separator() }}'
{%- endmacro %}

{% macro separator() %}{{ var('separator', '-') }}{% endmacro %}
"""


def upstream_models(i: int) -> list[int]:
    return sorted({i - 1, i // 2, i // 3} - {i})[: 1 + i % 3]


def model_sql(i: int) -> str:
    if i < 4:
        upstreams = [f"{{{{ ref('raw_{i}') }}}}"] if i else ["{{ source('app', 'events') }}"]
    else:
        upstreams = [f"{{{{ ref('m{j:04d}') }}}}" for j in upstream_models(i)]
    materialized = "incremental" if i % 5 == 0 else "view" if i % 7 == 0 else "table"
    begin = ", begin='2024-01-01'" if materialized == "incremental" else ""
    lines = [f"{{{{ config(materialized='{materialized}', tags=['group_{i % 10}']{begin}) }}}}",
             "{%- set kinds = ['a', 'b', 'c'] -%}",
             "with base as (",
             f"    select id, ts, kind, amount_cents from {upstreams[0]}"]
    lines += [f"    where id in (select id from {u})" for u in upstreams[1:2]]
    lines += [f"    and id in (select id from {u})" for u in upstreams[2:]]
    lines += [")",
              "select",
              "    id,",
              "    ts,",
              "    kind,",
              "    {{ cents_to_dollars('amount_cents') }} * 100 as amount_cents,",
              "    {{ label('kind') }} as kind_label,",
              "    {% for k in kinds -%} (kind = '{{ k }}') as is_{{ k }}, {% endfor %}",
              f"    '{{{{ env_var('BENCH_REGION', 'eu') }}}}' as region,",
              f"    {{{{ var('multiplier', 1) }}}} * {i} as model_number",
              "from base"]
    if materialized == "incremental":
        lines += ["{% if is_incremental() %}", "where ts > (select max(ts) from {{ this }})", "{% endif %}"]
    return "\n".join(lines) + "\n"


def schema_yml(models: int) -> str:
    lines = ["version: 2", "models:"]
    for i in range(models):
        lines += [f"  - name: m{i:04d}", f"    description: generated model {i}", "    columns:",
                  "      - name: id", "        tests: [not_null, unique]",
                  "      - name: kind", "        tests:",
                  "          - accepted_values:", "              values: ['a', 'b', 'c']"]
        if i >= 4 and i % 3 == 0:          # its ids are a subset of its first upstream's
            lines += ["      - name: id", "        tests:",
                      f"          - relationships: {{to: ref('m{upstream_models(i)[0]:04d}'), field: id}}"]
    return "\n".join(lines) + "\n"


def generate(target: Path, models: int) -> None:
    (target / "macros").mkdir(parents=True)
    (target / "seeds").mkdir()
    (target / "dbt_project.yml").write_text(
        "name: bench\nconfig-version: 2\nvars:\n  separator: '~'\nmodels:\n  bench:\n"
        "    staging:\n      +materialized: view\n    marts:\n      +schema: gold\n")
    (target / "macros" / "money.sql").write_text(MACROS)
    for s in range(1, 4):
        (target / "seeds" / f"raw_{s}.csv").write_text(
            "id,ts,kind,amount_cents\n" + "".join(f"{r},2024-01-0{1 + r % 9} 10:00:00,{'abc'[r % 3]},{r * 100}\n"
                                                  for r in range(20)))
    for i in range(models):
        folder = target / "models" / FOLDERS[min(i // 50, 2) if i < 150 else i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i:04d}.sql").write_text(model_sql(i).replace("ref('raw_0')", "source('app', 'events')"))
    (target / "models" / "schema.yml").write_text(schema_yml(models))
    (target / "models" / "sources.yml").write_text(
        "version: 2\nsources:\n  - name: app\n    schema: raw\n    tables:\n      - name: events\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="imports to time (the median is reported)")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from assetflow.dbt import import_project
    work = Path(tempfile.mkdtemp(prefix="af-dbt-bench-"))
    source = args.keep or work / "dbt"
    if source.exists():
        shutil.rmtree(source)
    generate(source, args.models)
    times = []
    for round_ in range(args.rounds):
        started = time.perf_counter()
        report = import_project(source, work / f"out{round_}", env={})
        times.append(time.perf_counter() - started)
    print(f"import-dbt of {args.models} generated models: median {statistics.median(times):.2f} s "
          f"over {args.rounds} round(s) (min {min(times):.2f} s); {len(report.models)} models, "
          f"{report.header_checks} header checks, {len(report.custom_checks)} custom checks, "
          f"{len(report.skipped)} not converted")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
