"""Regenerate the small, deterministic data files of assetflow/project/template/ (the "shop" demo).

Run once from the repository root:  python benchmarks/gen_template_data.py
It rewrites assetflow/project/template/data/customers.csv and assetflow/project/template/data/orders/2024-0{1,2,3}.csv.
Standard library only; a fixed seed makes the output byte-for-byte reproducible.
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

SEED = 20240101
ROOT = Path(__file__).resolve().parent.parent / "assetflow" / "project" / "template"

# Must match assetflow/project/template/seeds/countries.csv; weights give a plausible customer mix.
COUNTRIES = {
    "DE": 14, "FR": 10, "NL": 6, "ES": 6, "IE": 3,
    "US": 25, "CA": 8, "MX": 5,
    "JP": 9, "AU": 8, "SG": 6,
}
FIRST = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hiro", "Isla", "Jonas",
         "Kenji", "Lena", "Marco", "Nina", "Oscar", "Paula", "Quinn", "Rosa", "Sam", "Tara",
         "Umar", "Vera", "Wei", "Ximena", "Yuki", "Zoe"]
LAST = ["Garcia", "Smith", "Müller", "Martin", "Tanaka", "Brown", "Dubois", "Jansen", "Lopez",
        "Murphy", "Nguyen", "Rossi", "Sato", "Taylor", "Walsh", "Wilson", "Kim", "Novak"]

N_CUSTOMERS = 200
FIRST_DAY = dt.date(2024, 1, 1)
LAST_DAY = dt.date(2024, 3, 31)


def customers(rng: random.Random) -> list[dict]:
    codes = list(COUNTRIES)
    weights = [COUNTRIES[c] for c in codes]
    rows = []
    for cid in range(1, N_CUSTOMERS + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        email = f"{first}.{last}{cid}@example.com".lower().replace("ü", "u")
        # Dirty input the staging layer cleans: stray whitespace, mixed-case e-mail.
        if cid % 17 == 0:
            name = f"  {name} "
        if cid % 11 == 0:
            email = email.capitalize().replace("@example.com", "@Example.COM")
        # Most customers signed up before 2024; a few during the quarter.
        if cid <= 170:
            signup = dt.date(2022, 6, 1) + dt.timedelta(days=rng.randrange(0, 578))
        else:
            signup = FIRST_DAY + dt.timedelta(days=rng.randrange(0, 75))
        rows.append({"customer_id": cid, "name": name, "email": email,
                     "signup_date": signup.isoformat(),
                     "country_code": rng.choices(codes, weights)[0]})
    return rows


def orders(rng: random.Random, custs: list[dict]) -> list[dict]:
    # A customer's "appetite": a few heavy buyers, a long tail of occasional ones.
    appetite = {c["customer_id"]: rng.paretovariate(1.6) for c in custs}
    rows = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        base = 16 if day.weekday() < 5 else 22          # busier weekends
        base += (day - FIRST_DAY).days // 15            # slow growth over the quarter
        n = max(5, int(rng.gauss(base, 3)))
        eligible = [c for c in custs if c["signup_date"] <= day.isoformat()]
        weights = [appetite[c["customer_id"]] for c in eligible]
        for _ in range(n):
            c = rng.choices(eligible, weights)[0]
            ts = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rng.randrange(86400))
            status = rng.choices(["shipped", "placed", "returned", "cancelled"], [70, 15, 8, 7])[0]
            if day > LAST_DAY - dt.timedelta(days=3) and status == "shipped":
                status = "placed"                       # the freshest orders have not shipped yet
            amount = round(rng.lognormvariate(3.7, 0.6), 2)
            rows.append({"customer_id": c["customer_id"], "order_ts": ts,
                         "amount": amount, "status": status,
                         "country_code": c["country_code"]})
        day += dt.timedelta(days=1)
    rows.sort(key=lambda r: r["order_ts"])
    for i, r in enumerate(rows):
        r["order_id"] = 100001 + i
    # A handful of dirty rows the staging layer cleans.
    dirty = rng.sample(range(len(rows)), 14)
    for k, i in enumerate(dirty):
        r = rows[i]
        if k < 4:
            r["status"] = {0: " Shipped", 1: "PLACED ", 2: "Returned", 3: " CANCELLED "}[k]
        elif k < 8:
            r["amount"] = -round(r["amount"], 2)        # refund adjustments booked as orders
        elif k < 11:
            r["country_code"] = r["country_code"].lower()
        else:
            r["status"] = r["status"].upper()
    return rows


def main() -> None:
    rng = random.Random(SEED)
    custs = customers(rng)
    data = ROOT / "data"
    (data / "orders").mkdir(parents=True, exist_ok=True)
    with open(data / "customers.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["customer_id", "name", "email", "signup_date", "country_code"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(custs)
    rows = orders(rng, custs)
    cols = ["order_id", "customer_id", "order_ts", "amount", "status", "country_code"]
    for month in (1, 2, 3):
        path = data / "orders" / f"2024-{month:02d}.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, cols, lineterminator="\n")
            w.writeheader()
            n = 0
            for r in rows:
                if r["order_ts"].month == month:
                    # ISO 8601, UTC, without an offset: DuckDB reads it as a plain TIMESTAMP,
                    # so cast(order_ts as date) never depends on the session time zone.
                    w.writerow({**r, "order_ts": r["order_ts"].strftime("%Y-%m-%dT%H:%M:%S"),
                                "amount": f"{r['amount']:.2f}"})
                    n += 1
        print(f"{path.relative_to(ROOT.parent)}: {n} rows")
    print(f"{(data / 'customers.csv').relative_to(ROOT.parent)}: {len(custs)} rows")


if __name__ == "__main__":
    main()
