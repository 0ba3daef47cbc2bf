"""Python producers of the supply domain (`supply.suppliers` is a dbt model)."""

import polars as pl
from lakemesh import data_product


@data_product(landing=["part"])
def parts(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.select(
        part_key="p_partkey",
        name="p_name",
        manufacturer="p_mfgr",
        brand="p_brand",
        part_type="p_type",
        size="p_size",
        container="p_container",
        retail_price="p_retailprice",
        comment="p_comment",
    )


@data_product(landing=["partsupp"])
def part_suppliers(partsupp: pl.LazyFrame) -> pl.LazyFrame:
    return partsupp.select(
        part_key="ps_partkey",
        supplier_key="ps_suppkey",
        available_quantity="ps_availqty",
        supply_cost="ps_supplycost",
        comment="ps_comment",
    )
