-- supply.suppliers: the supplier master, renamed to the mesh's vocabulary.
select
    s_suppkey as supplier_key,
    s_name as name,
    s_address as address,
    s_nationkey as nation_key,
    s_phone as phone,
    s_acctbal as account_balance,
    s_comment as comment
from {{ source('landing', 'supplier') }}
