"""A `relationships` check reads another asset without making it an upstream (issue 12, item 15).

The common dbt test: `orders.customer_id` must exist in `customers`, and `customers` is built from
`orders`. With the check as a graph edge that was a cycle error naming no check; now the check runs
once both are built.
"""
from __future__ import annotations

from conftest import query

CHECK = "relationships(customer_id, marts.customers.customer_id)"
ORDERS = f"""
    /* assetflow
    checks = ["{CHECK}"]
    */
    select * from (values (1, 10), (2, 20), (3, 10)) t(order_id, customer_id)
    """
CUSTOMERS = "select customer_id, count(*) as orders from staging.orders {where} group by all order by 1\n"


def dbt_like(project, where: str = ""):
    return project({"assets/staging/orders.sql": ORDERS,
                    "assets/marts/customers.sql": CUSTOMERS.format(where=where)})


def run_json(af, p, *args, expect: int = 0) -> dict:
    r = af(p, "materialize", *args, "--json")
    assert r.exit_code == expect, r.output
    assert "Traceback" not in r.output, r.output
    return r.json()


def latest_check(af, p, asset: str, check: str = CHECK) -> list[dict]:
    r = af(p, "status", "--json")
    assert r.exit_code == 0, r.output
    entries = next(a for a in r.json()["assets"] if a["name"] == asset)["checks"]
    return [c for c in entries if c["check"] == check]


def test_the_dbt_relationships_test_is_no_cycle_and_passes_once_both_are_built(af, project):
    p = dbt_like(project)
    g = af(p, "graph", "--format", "json")
    assert g.exit_code == 0, g.output
    upstream = {a["name"]: a["upstream"] for a in g.json()["assets"]}
    assert upstream == {"staging.orders": [], "marts.customers": ["staging.orders"]}
    res = run_json(af, p)
    assert res["status"] == "success" and res["checks"] == []
    assert [(x["asset"], x["status"]) for x in res["results"]] == [("staging.orders", "success"),
                                                                    ("marts.customers", "success")]
    assert query(p, "select customer_id, orders from marts.customers") == [(10, 2), (20, 1)]
    [check] = latest_check(af, p, "staging.orders")
    assert (check["passed"], check["failing"], check["partition"]) == (True, 0, None)


def test_a_violation_found_after_both_builds_fails_the_run_and_names_the_check(af, project):
    p = dbt_like(project, where="where customer_id <> 20")
    res = run_json(af, p, expect=1)
    assert res["status"] == "failed"
    assert all(x["status"] == "success" for x in res["results"])      # both tables are built
    [failed] = res["checks"]
    assert (failed["asset"], failed["check"], failed["passed"], failed["failing"]) == \
        ("staging.orders", CHECK, False, 1)
    text = af(p, "check")
    assert text.exit_code == 1 and f"FAIL staging.orders: {CHECK}  (1 failing rows)" in text.stdout, text.output


def test_rebuilding_only_the_other_asset_runs_the_check_again(af, project):
    p = dbt_like(project)
    run_json(af, p)
    (p / "assets/marts/customers.sql").write_text(CUSTOMERS.format(where="where customer_id <> 20"))
    res = run_json(af, p, expect=1)
    assert [x["asset"] for x in res["results"]] == ["marts.customers"]          # orders is fresh
    assert [(c["asset"], c["failing"]) for c in res["checks"]] == [("staging.orders", 1)]
    [check] = latest_check(af, p, "staging.orders")
    assert check["passed"] is False


def test_an_other_asset_never_built_is_a_warning_and_the_checked_data_commits(af, project):
    p = dbt_like(project)
    res = run_json(af, p, "staging.orders")
    assert res["status"] == "success"
    assert [(x["asset"], x["status"]) for x in res["results"]] == [("staging.orders", "success")]
    [warned] = res["checks"]
    assert (warned["severity"], warned["passed"]) == ("warn", False)
    assert warned["error"] == "marts.customers has not been built, so there is nothing to compare with"
    assert query(p, "select count(*) from staging.orders") == [(3,)]
    text = af(p, "status")
    assert f"warn: {CHECK}" in text.stdout, text.output
    r = af(p, "check", "staging.orders")
    assert r.exit_code == 0 and f"WARN staging.orders: {CHECK}  (not run: marts.customers has not been built" \
        in r.stdout and "Traceback" not in r.output, r.output
    # building the other asset later runs the check again, now against real data
    res = run_json(af, p)
    assert [x["asset"] for x in res["results"]] == ["marts.customers"] and res["checks"] == []
    assert latest_check(af, p, "staging.orders")[0]["passed"] is True


def test_partitioned_orders_are_checked_per_built_partition(af, project):
    p = project({
        "assets/staging/orders.sql": f"""
            /* assetflow
            partition_by = "day"
            time_column = "day"
            start = "2024-01-01"
            end = "2024-01-03"
            checks = ["{CHECK}"]
            */
            select * from (values (DATE '2024-01-01', 10), (DATE '2024-01-02', 20), (DATE '2024-01-03', 30))
                t(day, customer_id)
            where day >= $start and day < $end
            """,
        "assets/marts/customers.sql": CUSTOMERS.format(where="where customer_id <> 30"),
    })
    res = run_json(af, p, expect=1)
    assert [(c["partition"], c["failing"]) for c in res["checks"]] == [("2024-01-03", 1)]
    checks = {c["partition"]: c["passed"] for c in latest_check(af, p, "staging.orders")}
    assert checks == {"2024-01-01": True, "2024-01-02": True, "2024-01-03": False}


def test_a_self_referencing_check_runs_inside_the_write_and_rolls_it_back(af, project):
    tree = """
        /* assetflow
        checks = ["relationships(parent_id, main.tree.id)"]
        */
        select * from (values {rows}) t(id, parent_id)
        """
    p = project({"assets/tree.sql": tree.format(rows="(1, NULL), (2, 1), (3, 2)")})
    assert run_json(af, p)["status"] == "success"
    (p / "assets/tree.sql").write_text(tree.format(rows="(1, NULL), (2, 9)"))
    res = run_json(af, p, expect=1)
    assert "check relationships(parent_id, main.tree.id) failed: 1 failing row(s)" in res["results"][0]["error"]
    assert query(p, "select count(*) from main.tree") == [(3,)]           # rolled back
