/* assetflow
tags = ["finance"]
checks = ["not_null(customer_id)", "unique(customer_id)"]
description = "Lifetime value per customer in USD: orders, revenue of placed and shipped orders, returns, first and last order. Customers without orders are kept with zeros."
owner = "analytics"
columns = { customer_id = "the customer (one row each)", lifetime_value = "sum of placed and shipped orders, USD", returned_value = "sum of returned orders, USD" }
*/
-- Lifetime value per customer (USD). Customers without orders are kept with zeros.
with orders as (
    select
        customer_id,
        count(*)                                                   as orders,
        sum(amount) filter (where status in ('placed', 'shipped')) as lifetime_value,
        sum(amount) filter (where status = 'returned')             as returned_value,
        min(order_date)                                            as first_order_date,
        max(order_date)                                            as last_order_date
    from staging.stg_orders
    where status <> 'cancelled'
    group by customer_id
)
select
    c.customer_id,
    c.name,
    c.email,
    c.country_code,
    c.signup_date,
    coalesce(o.orders, 0)                          as orders,
    coalesce(o.lifetime_value, 0)                  as lifetime_value,
    coalesce(o.returned_value, 0)                  as returned_value,
    o.first_order_date,
    o.last_order_date,
    case when coalesce(o.orders, 0) = 0 then null
         else round(coalesce(o.lifetime_value, 0) / o.orders, 2) end as avg_order_value
from staging.stg_customers as c
left join orders as o on o.customer_id = c.customer_id
