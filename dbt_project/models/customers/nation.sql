-- customers.nation: each nation joined with its region.
select
    n.n_nationkey as nation_key,
    n.n_name as nation_name,
    n.n_regionkey as region_key,
    r.r_name as region_name
from {{ source('landing', 'nation') }} as n
join {{ source('landing', 'region') }} as r on r.r_regionkey = n.n_regionkey
