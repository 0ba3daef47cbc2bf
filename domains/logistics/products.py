"""Products of the logistics domain: what is known about an order line on the day it ships, and whether it
arrived late (the late-delivery model's features and label; its predictions are declared in `models.py`)."""

import polars as pl
from lakemesh import data_product


def _days(later: str, earlier: str) -> pl.Expr:
    return (pl.col(later) - pl.col(earlier)).dt.total_days().cast(pl.Int32)


@data_product(
    inputs=[
        *("sales.shipments", "sales.orders", "customers.customer", "customers.nation"),
        *("supply.suppliers", "supply.parts"),
    ],
    columns={
        "order_key": "shipments.order_key",
        "line_number": "shipments.line_number",
        "order_date": "shipments.order_date",
        "ship_date": "shipments.ship_date",
        "days_order_to_ship": ["shipments.ship_date", "orders.order_date"],
        "days_order_to_commit": ["shipments.commit_date", "orders.order_date"],
        "slack_days": ["shipments.commit_date", "shipments.ship_date"],
        "ship_mode": "shipments.ship_mode",
        "ship_instruct": "shipments.ship_instruct",
        "order_priority": "orders.order_priority",
        "quantity": "shipments.quantity",
        "discount": "shipments.discount",
        "part_size": "parts.size",
        "part_type": "parts.part_type",
        "supplier_nation": "nation.nation_name",
        "customer_nation": "nation.nation_name",
        "is_late": ["shipments.receipt_date", "shipments.commit_date"],
    },
    indirect={
        "JOIN": [
            "shipments.order_key",
            "orders.order_key",
            "orders.customer_key",
            "customer.customer_key",
            "customer.nation_key",
            "shipments.supplier_key",
            "suppliers.supplier_key",
            "suppliers.nation_key",
            "shipments.part_key",
            "parts.part_key",
            "nation.nation_key",
        ]
    },
)
def shipment_features(
    shipments: pl.LazyFrame,
    orders: pl.LazyFrame,
    customer: pl.LazyFrame,
    nation: pl.LazyFrame,
    suppliers: pl.LazyFrame,
    parts: pl.LazyFrame,
) -> pl.LazyFrame:
    """One row per shipped order line: facts known on its ship day, and `is_late` (received after the promise)."""
    customer_nation = nation.select(customer_nation_key="nation_key", customer_nation="nation_name")
    supplier_nation = nation.select(supplier_nation_key="nation_key", supplier_nation="nation_name")
    return (
        shipments.join(orders.select("order_key", "customer_key", "order_priority"), on="order_key")
        .join(customer.select("customer_key", customer_nation_key="nation_key"), on="customer_key")
        .join(suppliers.select("supplier_key", supplier_nation_key="nation_key"), on="supplier_key")
        .join(parts.select("part_key", part_size="size", part_type="part_type"), on="part_key")
        .join(customer_nation, on="customer_nation_key")
        .join(supplier_nation, on="supplier_nation_key")
        .select(
            "order_key",
            "line_number",
            "order_date",
            "ship_date",
            days_order_to_ship=_days("ship_date", "order_date"),
            days_order_to_commit=_days("commit_date", "order_date"),
            slack_days=_days("commit_date", "ship_date"),
            ship_mode="ship_mode",
            ship_instruct="ship_instruct",
            order_priority="order_priority",
            quantity=pl.col("quantity").cast(pl.Float64),
            discount=pl.col("discount").cast(pl.Float64),
            part_size="part_size",
            part_type="part_type",
            supplier_nation="supplier_nation",
            customer_nation="customer_nation",
            is_late=pl.col("receipt_date") > pl.col("commit_date"),
        )
    )
