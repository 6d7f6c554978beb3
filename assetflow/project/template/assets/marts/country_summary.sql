/* assetflow
kind = "view"
description = "Customers and lifetime value per country and region; a view, so it is always as fresh as its inputs."
owner = "analytics"
*/
-- Customers and lifetime value per country; a view, so it is always as fresh as its inputs.
select
    c.region,
    c.country_code,
    c.country_name,
    count(cl.customer_id)                                   as customers,
    count(cl.customer_id) filter (where cl.orders > 0)      as active_customers,
    coalesce(sum(cl.lifetime_value), 0)                     as lifetime_value,
    round(avg(cl.lifetime_value) filter (where cl.orders > 0), 2) as avg_lifetime_value
from seeds.countries as c
left join marts.customer_lifetime as cl on cl.country_code = c.country_code
group by all
order by c.region, lifetime_value desc
