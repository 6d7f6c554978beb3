import pyarrow as pa
import pyarrow.compute as pc
from assetflow import asset, AssetContext


def _scaled(values: pa.Array) -> pa.Array:
    """Min-max scale to [0, 1] (all 0.0 when every value is the same)."""
    lo, hi = pc.min(values).as_py(), pc.max(values).as_py()
    if lo is None or hi is None or hi == lo:
        return pa.array([0.0] * len(values), pa.float64())
    return pc.divide(pc.subtract(values, lo), hi - lo)


@asset(tags=["ml"], owner="data-science",
       columns={"score": "0 to 1: 35% order count, 45% spend, 20% recency, each scaled; 0 without orders"})
def customer_scores(stg_customers: pa.Table, stg_orders: pa.Table, context: AssetContext) -> pa.Table:
    """A toy RFM-style score per customer: frequency, monetary value and recency of the orders
    that were not cancelled, each scaled to [0, 1], weighted 35/45/20."""
    # Frequency and monetary value from orders that were not cancelled; recency from the last order.
    kept = stg_orders.filter(pc.not_equal(stg_orders["status"], "cancelled"))
    kept = kept.set_column(
        kept.schema.get_field_index("amount"), "amount", pc.cast(kept["amount"], pa.float64())
    )
    per_customer = kept.group_by("customer_id").aggregate(
        [("order_id", "count"), ("amount", "sum"), ("order_date", "max")]
    ).rename_columns(["customer_id", "orders", "total_amount", "last_order_date"])

    # Every customer gets a row; those without orders score 0.
    scored = stg_customers.select(["customer_id"]).join(per_customer, "customer_id", join_type="left outer")
    orders = pc.fill_null(scored["orders"], 0)
    total = pc.fill_null(scored["total_amount"], 0.0)

    # Recency: days since the last order, relative to the newest order in the data.
    newest = pc.max(scored["last_order_date"]).as_py()
    if newest is None:
        recency = pa.array([0.0] * scored.num_rows, pa.float64())
    else:
        days = pc.days_between(scored["last_order_date"], pa.scalar(newest, pa.date32()))
        # No orders at all counts as the least recent possible.
        days = pc.fill_null(pc.cast(days, pa.float64()), float(pc.max(days).as_py() or 0) + 1)
        recency = pc.subtract(1.0, _scaled(days))

    score = pc.add(
        pc.add(pc.multiply(_scaled(pc.cast(orders, pa.float64())), 0.35), pc.multiply(_scaled(total), 0.45)),
        pc.multiply(recency, 0.20),
    )
    score = pc.if_else(pc.equal(orders, 0), 0.0, score)

    result = pa.table(
        {
            "customer_id": scored["customer_id"],
            "orders": pc.cast(orders, pa.int64()),
            "total_amount": pc.round(total, 2),
            "score": pc.round(pc.cast(score, pa.float64()), 4),
        }
    ).sort_by("customer_id")
    context.log.info("scored %d customers (%d with orders)", result.num_rows, per_customer.num_rows)
    return result
