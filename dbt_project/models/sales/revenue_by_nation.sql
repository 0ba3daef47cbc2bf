-- sales.revenue_by_nation: TPC-H Q5's local-supplier revenue (the supplier is in the
-- customer's nation) by region, nation and order year, without Q5's region and date filter. Partitioned by year
-- (its contract): a year's build reads that year's orders and line items only.
select
    n.region_name,
    n.nation_name,
    cast(year(o.order_date) as integer) as order_year,
    cast(date_trunc('year', o.order_date) as date) as year_start,
    cast(sum(l.extended_price * (1 - l.discount)) as decimal(38, 4)) as revenue
from {{ source('customers', 'customer') }} as c
join {{ source('sales', 'orders') }} as o on o.customer_key = c.customer_key
join {{ source('sales', 'line_items') }} as l on l.order_key = o.order_key
join {{ source('supply', 'suppliers') }} as s
    on s.supplier_key = l.supplier_key and s.nation_key = c.nation_key
join {{ source('customers', 'nation') }} as n on n.nation_key = s.nation_key
group by n.region_name, n.nation_name, year(o.order_date), date_trunc('year', o.order_date)
