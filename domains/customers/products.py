"""Python producers of the customers domain (`customers.nation` is a dbt model)."""

import polars as pl
from lakemesh import data_product

_CUSTOMER = {  # product column: landing column
    "customer_key": "c_custkey",
    "name": "c_name",
    "address": "c_address",
    "nation_key": "c_nationkey",
    "phone": "c_phone",
    "account_balance": "c_acctbal",
    "market_segment": "c_mktsegment",
    "comment": "c_comment",
}


@data_product(landing=["customer"], columns={out: f"customer.{src}" for out, src in _CUSTOMER.items()})
def customer(customer: pl.LazyFrame) -> pl.LazyFrame:
    return customer.select(**_CUSTOMER)
