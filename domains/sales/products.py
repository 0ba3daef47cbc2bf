"""Python producers of the sales domain (its analytics are dbt models)."""

import polars as pl
from lakemesh import data_product

_ORDERS = {  # product column: landing column
    "order_key": "o_orderkey",
    "customer_key": "o_custkey",
    "order_status": "o_orderstatus",
    "total_price": "o_totalprice",
    "order_date": "o_orderdate",
    "order_priority": "o_orderpriority",
    "clerk": "o_clerk",
    "ship_priority": "o_shippriority",
    "comment": "o_comment",
}


@data_product(landing=["orders"], columns={out: f"orders.{src}" for out, src in _ORDERS.items()})
def orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.select(**_ORDERS)


_LINE_ITEMS = {  # product column: landing column
    "order_key": "l_orderkey",
    "line_number": "l_linenumber",
    "part_key": "l_partkey",
    "supplier_key": "l_suppkey",
    "quantity": "l_quantity",
    "extended_price": "l_extendedprice",
    "discount": "l_discount",
    "tax": "l_tax",
    "return_flag": "l_returnflag",
    "line_status": "l_linestatus",
    "ship_date": "l_shipdate",
    "commit_date": "l_commitdate",
    "receipt_date": "l_receiptdate",
    "ship_instruct": "l_shipinstruct",
    "ship_mode": "l_shipmode",
    "comment": "l_comment",
}


@data_product(
    landing=["lineitem", "orders"],
    columns={**{out: f"lineitem.{src}" for out, src in _LINE_ITEMS.items()}, "order_date": "orders.o_orderdate"},
    indirect={"JOIN": ["lineitem.l_orderkey", "orders.o_orderkey"]},
)
def line_items(lineitem: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """Every order line, with the day its order was placed (the line items land on their order's day)."""
    placed = orders.select(order_key="o_orderkey", order_date="o_orderdate")
    return lineitem.select(**_LINE_ITEMS).join(placed, on="order_key", how="left")


_SHIPMENTS = (
    *("order_key", "line_number", "part_key", "supplier_key", "order_date", "ship_date", "commit_date"),
    "receipt_date",
    *("ship_mode", "ship_instruct", "quantity", "discount"),
)


@data_product(
    inputs=["sales.line_items"],
    columns={column: f"line_items.{column}" for column in _SHIPMENTS},
)
def shipments(line_items: pl.LazyFrame) -> pl.LazyFrame:
    """The public shipping facts of every order line: keys, dates, how and how much; no prices."""
    return line_items.select(*_SHIPMENTS)
