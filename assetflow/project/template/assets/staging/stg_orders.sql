/* assetflow
kind = "partitioned"
partition_by = "day"
time_column = "order_date"
start = "2024-01-01"
end = "2024-03-31"
description = "Orders from the shop's daily export, one day per partition, cleaned: status lower-case, country codes upper-case, refund adjustments (negative orders) dropped."
owner = "data-platform"
columns = { order_ts = "when the order was placed, UTC", status = "placed, shipped, returned or cancelled" }
*/
-- Orders, one day per partition. Cleans the export's quirks: status in mixed case with stray
-- spaces, lower-case country codes, and refund adjustments booked as negative orders (dropped).
-- order_ts is UTC; $start/$end are DATEs, compared as timestamps so the whole day is covered.
select
    cast(order_id as bigint)                  as order_id,
    cast(customer_id as integer)              as customer_id,
    cast(cast(order_ts as timestamp) as date) as order_date,
    cast(order_ts as timestamp)               as order_ts,
    cast(amount as decimal(12, 2))            as amount,
    lower(trim(status))                       as status,
    upper(trim(country_code))                 as country_code
from raw.orders
where cast(order_ts as timestamp) >= $start
  and cast(order_ts as timestamp) < $end
  and cast(amount as decimal(12, 2)) >= 0
