/* assetflow
tags = ["staging"]
checks = ["not_null(customer_id)", "unique(customer_id)"]
description = "One row per customer from the CRM export, cleaned: trimmed names, lower-case e-mail, upper-case country code."
owner = "data-platform"
columns = { customer_id = "the CRM's customer id", email = "lower-case, trimmed" }
*/
-- One row per customer, cleaned: trimmed names, lower-case e-mail, upper-case country code.
select
    cast(customer_id as integer)       as customer_id,
    trim(name)                         as name,
    lower(trim(email))                 as email,
    cast(signup_date as date)          as signup_date,
    upper(trim(country_code))          as country_code
from raw.customers
where customer_id is not null
