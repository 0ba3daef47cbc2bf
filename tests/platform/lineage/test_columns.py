"""Column lineage from SQL: what each output column is computed from, and what shapes every row."""

from lakemesh.lineage import InputRef, sql_column_lineage, sql_dataset_lineage

ORDERS = InputRef(namespace="ns", name="shop.orders")
CUSTOMERS = InputRef(namespace="ns", name="shop.customers")
RELATIONS = {
    ("shop", "orders"): (ORDERS, {"order_id": "bigint", "customer_id": "bigint", "amount": "double", "day": "date"}),
    ("shop", "customers"): (CUSTOMERS, {"customer_id": "bigint", "country": "varchar", "active": "boolean"}),
}
SQL = """
with recent as (select * from shop.orders where day >= date '2026-01-01')
select c.country, sum(r.amount) as revenue,
       row_number() over (partition by c.country order by sum(r.amount)) as place
from recent as r
join shop.customers as c on c.customer_id = r.customer_id
where c.active
group by c.country
order by revenue desc
"""


def test_projected_columns_are_direct_lineage():
    lineage = sql_column_lineage(SQL, relations=RELATIONS)
    assert [(i.dataset.name, i.field, i.subtype) for i in lineage["revenue"]] == [
        ("shop.orders", "amount", "AGGREGATION")
    ]
    assert [(i.dataset.name, i.field) for i in lineage["country"]] == [("shop.customers", "country")]


def test_columns_used_but_not_projected_are_indirect_lineage_of_the_dataset():
    found = {(i.dataset.name, i.field, i.type, i.subtype) for i in sql_dataset_lineage(SQL, relations=RELATIONS)}
    assert found == {
        ("shop.orders", "day", "INDIRECT", "FILTER"),  # inside the CTE
        ("shop.orders", "customer_id", "INDIRECT", "JOIN"),  # through the CTE's plain column
        ("shop.customers", "customer_id", "INDIRECT", "JOIN"),
        ("shop.customers", "active", "INDIRECT", "FILTER"),
        ("shop.customers", "country", "INDIRECT", "GROUP_BY"),
        ("shop.customers", "country", "INDIRECT", "WINDOW"),
        ("shop.orders", "amount", "INDIRECT", "WINDOW"),  # the window's order
    }
