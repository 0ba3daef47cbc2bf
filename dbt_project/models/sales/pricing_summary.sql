-- sales.pricing_summary: TPC-H Q1, the pricing summary report.
select
    return_flag,
    line_status,
    cast(sum(quantity) as decimal(38, 2)) as sum_qty,
    cast(sum(extended_price) as decimal(38, 2)) as sum_base_price,
    cast(sum(extended_price * (1 - discount)) as decimal(38, 4)) as sum_disc_price,
    cast(sum(extended_price * (1 - discount) * (1 + tax)) as decimal(38, 6)) as sum_charge,
    cast(avg(quantity) as double) as avg_qty,
    cast(avg(extended_price) as double) as avg_price,
    cast(avg(discount) as double) as avg_disc,
    count(*) as count_order
from {{ source('sales', 'line_items') }}
where ship_date <= date '1998-12-01' - interval 90 day
group by return_flag, line_status
order by return_flag, line_status
