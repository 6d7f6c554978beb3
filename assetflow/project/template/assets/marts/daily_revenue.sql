/* assetflow
kind = "partitioned"
partition_by = "day"
time_column = "order_date"
start = "2024-01-01"
end = "2024-03-31"
tags = ["finance"]
checks = ["not_null(order_date)"]
description = "Revenue per day and sales region, in USD and in the region's reporting currency. Placed and shipped orders count as revenue; returned and cancelled orders are counted, not summed."
owner = "finance"
columns = { order_date = "the day (the partition)", region = "sales region of the customer's country, UNKNOWN when not in seeds.countries", revenue_usd = "placed and shipped orders, USD" }
*/
-- Revenue per day and sales region, in USD and in the region's reporting currency.
-- Revenue counts placed and shipped orders; returned and cancelled orders are counted, not summed.
select
    o.order_date,
    coalesce(c.region, 'UNKNOWN')                                   as region,
    coalesce(fx.currency, 'USD')                                    as currency,
    count(*) filter (where o.status <> 'cancelled')                 as orders,
    count(*) filter (where o.status = 'returned')                   as returned_orders,
    count(*) filter (where o.status = 'cancelled')                  as cancelled_orders,
    count(distinct o.customer_id)                                   as customers,
    coalesce(sum(o.amount) filter (where o.status in ('placed', 'shipped')), 0)
                                                                    as revenue_usd,
    cast(coalesce(sum(o.amount * coalesce(fx.usd_to_local, 1))
                  filter (where o.status in ('placed', 'shipped')), 0) as decimal(18, 2))
                                                                    as revenue_local
from staging.stg_orders as o
left join seeds.countries as c on c.country_code = o.country_code
left join seeds.fx_rates as fx on fx.region = c.region
where o.order_date >= $start and o.order_date < $end
group by all
