import pyarrow as pa
from assetflow import asset


@asset(max_age="24h", owner="data-platform", tags=["extract"],
       columns={"rate_to_eur": "how many EUR one unit of the currency buys"})
def latest_fx_rates() -> pa.Table:
    """Today's exchange rates to EUR, the way an extract from a rates API would fetch them.

    Nothing assetflow can fingerprint changes when the API's answer does, so `max_age = "24h"`
    makes the extract stale a day after its last build: the nightly schedule (assetflow.toml)
    refreshes it. Here the rates are fixed, so the example runs offline."""
    return pa.table({"currency": ["EUR", "USD", "GBP", "JPY", "AUD"],
                     "rate_to_eur": [1.0, 0.92, 1.17, 0.0061, 0.60]})
