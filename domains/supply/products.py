"""Python producers of the supply domain (`supply.suppliers` is a dbt model)."""

import polars as pl
from lakemesh import data_product

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
