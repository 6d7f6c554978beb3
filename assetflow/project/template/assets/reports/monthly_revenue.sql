/* assetflow
tags = ["finance"]
description = "Monthly revenue per region, with month-over-month growth."
owner = "finance"
*/
-- Monthly revenue per region, with month-over-month growth. Reads daily_revenue by its bare name.
with monthly as (
    select
        cast(date_trunc('month', order_date) as date) as month,
        region,
        currency,
        sum(orders)                                  as orders,
        sum(returned_orders)                         as returned_orders,
        sum(revenue_usd)                             as revenue_usd,
        sum(revenue_local)                           as revenue_local,
        count(distinct order_date)                   as trading_days
    from daily_revenue
    group by all
)
select
    month,
    region,
    currency,
    orders,
    returned_orders,
    revenue_usd,
    revenue_local,
    round(revenue_usd / trading_days, 2)             as avg_daily_revenue_usd,
    round(100.0 * (revenue_usd / lag(revenue_usd) over (partition by region order by month) - 1), 1)
                                                     as revenue_growth_pct
from monthly
order by month, region
