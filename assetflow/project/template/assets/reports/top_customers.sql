/* assetflow
tags = ["finance"]
description = "The five most valuable customers of each region, with their RFM score."
owner = "analytics"
*/
-- The five most valuable customers of each region, with their RFM score.
select
    co.region,
    rank() over (partition by co.region order by cl.lifetime_value desc, cl.customer_id) as rank_in_region,
    cl.customer_id,
    cl.name,
    cl.country_code,
    cl.orders,
    cl.lifetime_value,
    round(s.score, 3)                                                       as score
from marts.customer_lifetime as cl
join marts.customer_scores as s on s.customer_id = cl.customer_id
join seeds.countries as co on co.country_code = cl.country_code
where cl.orders > 0
qualify rank_in_region <= 5
order by co.region, rank_in_region
