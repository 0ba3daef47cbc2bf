"""The producers a domain's modules declare: each once, whichever module names it and however often."""

import types

import polars as pl
from lakemesh import data_product
from lakemesh.orchestration import declared_producers
from lakemesh.producers.python import DataProduct


@data_product(name="events")
def events() -> pl.DataFrame:
    return pl.DataFrame({"id": [1]})


def test_a_producer_named_twice_or_imported_by_another_module_is_declared_once():
    products = types.ModuleType("products")
    products.events, products.events_again, products.DataProduct = events, events, DataProduct
    models = types.ModuleType("models")
    models.events = events  # imported to reference it

    found = declared_producers(products, models, domain="shop")

    assert [p.product for p in found] == ["shop.events"]
