"""Producers of the supply domain: Python and Spark (`supply.suppliers` is a dbt model)."""

import polars as pl
from lakemesh import PartitionWindow, data_product, spark_product
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

_PARTS = {  # product column: landing column
    "part_key": "p_partkey",
    "name": "p_name",
    "manufacturer": "p_mfgr",
    "brand": "p_brand",
    "part_type": "p_type",
    "size": "p_size",
    "container": "p_container",
    "retail_price": "p_retailprice",
    "comment": "p_comment",
}


@data_product(landing=["part"], columns={out: f"part.{src}" for out, src in _PARTS.items()})
def parts(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.select(**_PARTS)


_PART_SUPPLIERS = {  # product column: landing column
    "part_key": "ps_partkey",
    "supplier_key": "ps_suppkey",
    "available_quantity": "ps_availqty",
    "supply_cost": "ps_supplycost",
    "comment": "ps_comment",
}


@data_product(landing=["partsupp"], columns={out: f"partsupp.{src}" for out, src in _PART_SUPPLIERS.items()})
def part_suppliers(partsupp: pl.LazyFrame) -> pl.LazyFrame:
    return partsupp.select(**_PART_SUPPLIERS)


@spark_product(
    inputs=["supply.suppliers", "sales.shipments"],
    columns={
        "supplier_key": "suppliers.supplier_key",
        "ship_month": "shipments.ship_date",
        "late_lines": ["shipments.receipt_date", "shipments.commit_date"],
        "late_ratio": ["shipments.receipt_date", "shipments.commit_date"],
        "avg_days_late": ["shipments.receipt_date", "shipments.commit_date"],
    },
    indirect={"JOIN": ["suppliers.supplier_key", "shipments.supplier_key"], "GROUP_BY": "shipments.ship_date"},
)
def supplier_delivery_performance(suppliers: DataFrame, shipments: DataFrame, window: PartitionWindow) -> DataFrame:
    """Per supplier and month shipped: lines, lines received after the promised day, and by how much.

    `shipments` holds the lines ordered in the window's months and the five before; those shipped in them count.
    """
    late = F.col("receipt_date") > F.col("commit_date")
    shipped = (F.col("ship_date") >= F.lit(window.first)) & (F.col("ship_date") < F.lit(window.end))
    return (
        shipments.where(shipped)
        .join(suppliers.select("supplier_key"), "supplier_key")
        .groupBy("supplier_key", F.trunc("ship_date", "month").alias("ship_month"))
        .agg(
            F.count(F.lit(1)).alias("shipped_lines"),
            F.count(F.when(late, 1)).alias("late_lines"),
            F.avg(F.when(late, F.datediff("receipt_date", "commit_date"))).alias("avg_days_late"),
        )
        .select(
            "supplier_key",
            "ship_month",
            "shipped_lines",
            "late_lines",
            (F.col("late_lines") / F.col("shipped_lines")).alias("late_ratio"),
            "avg_days_late",
        )
    )
