"""Storage names and product names meet on one node: what the platform's `symlinks` teach the catalog."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from lakemesh.catalog import Catalog, column_sources
from lakemesh.catalog import model as m

from .events import column_lineage, dataset, facet, publish_commit, run_event

LAKEHOUSE = Path(tempfile.gettempdir()) / f"lakemesh-symlink-tests-{os.getpid()}"
"""Where the products' Delta tables are: their versions are confirmed against the real logs there."""
PRODUCTS = f"lakemesh://{LAKEHOUSE}"
LISTENER = "https://github.com/OpenLineage/OpenLineage/tree/1.53.0/integration/spark"
ORDERS_PATH = f"{LAKEHOUSE}/sales/orders"
TOTALS_PATH = f"{LAKEHOUSE}/sales/totals"


@pytest.fixture(autouse=True)
def empty_lakehouse() -> Iterator[None]:
    shutil.rmtree(LAKEHOUSE, ignore_errors=True)
    yield
    shutil.rmtree(LAKEHOUSE, ignore_errors=True)


def _stored(name: str, path: str, **facets) -> dict:
    """A product named by its storage, with the `symlinks` facet the platform sends."""
    symlinks = facet(identifiers=[{"namespace": PRODUCTS, "name": name, "type": "TABLE"}])
    return dataset(path, namespace="file", symlinks=symlinks, **facets)


def _platform_publish(catalog: Catalog) -> str:
    """Commit a version of sales.totals to Delta and report it as the platform does; returns the version."""
    version, run_id = publish_commit(LAKEHOUSE, "sales.totals", columns=("customer", "total"))
    declared = column_lineage({"total": [(ORDERS_PATH, "amount")]}, namespace="file")
    catalog.ingest(
        run_event(
            "sales.totals",
            run_id=run_id,
            inputs=[_stored("sales.orders", ORDERS_PATH)],
            outputs=[
                _stored(
                    "sales.totals",
                    TOTALS_PATH,
                    columns=("customer", "total"),
                    columnLineage=declared,
                    version=facet(datasetVersion=version),
                )
            ],
        )
    )
    return version


def _listener_run(catalog: Catalog, *, producer: str = LISTENER) -> None:
    """What Spark's listener says of the same write: storage names only, and the column lineage of its plan."""
    observed = column_lineage({"customer": [(ORDERS_PATH, "customer_id")]}, namespace="file")
    catalog.ingest(
        run_event(
            "spark_app.execute_write_into_delta_command.sales_totals",
            inputs=[dataset(ORDERS_PATH, namespace="file")],
            outputs=[
                dataset(
                    TOTALS_PATH,
                    namespace="file",
                    columns=("customer",),
                    columnLineage=observed,
                    version=facet(datasetVersion="99"),
                    documentation=facet(description="spark says"),
                )
            ],
            producer=producer,
        )
    )


def _datasets(catalog: Catalog) -> set[tuple[str, str]]:
    with catalog.engine.connect() as db:
        return {(row.namespace, row.name) for row in db.execute(sa.select(m.datasets.c.namespace, m.datasets.c.name))}


def test_a_listener_s_storage_names_land_on_the_product_nodes(catalog_url: str):
    catalog = Catalog(catalog_url)
    _platform_publish(catalog)
    _listener_run(catalog)
    assert _datasets(catalog) == {(PRODUCTS, "sales.orders"), (PRODUCTS, "sales.totals")}  # no `file` node

    entry = catalog.product("sales.totals", namespace=PRODUCTS)
    assert [v.version for v in entry.versions] == ["0"]  # the listener's write adds no version: Delta's are the truth
    assert entry.current_version == "0" and entry.description == "Test product sales.totals."
    sources = {
        column: {(s.dataset, s.field) for s in column_sources(catalog, "sales.totals", column).inputs}
        for column in ("total", "customer")
    }
    assert sources == {"total": {("sales.orders", "amount")}, "customer": {("sales.orders", "customer_id")}}

    _platform_publish(catalog)  # the next publish re-declares its lineage; what was observed stays
    _listener_run(catalog)
    assert {(s.dataset, s.field) for s in column_sources(catalog, "sales.totals", "customer").inputs} == {
        ("sales.orders", "customer_id")
    }
    assert sorted(v.version for v in catalog.product("sales.totals", namespace=PRODUCTS).versions) == ["0", "1"]


def test_only_the_platform_s_symlinks_name_products(catalog_url: str):
    """Another producer claiming a product's name for its own storage gets a node of its own."""
    catalog = Catalog(catalog_url)
    _platform_publish(catalog)
    claim = facet(identifiers=[{"namespace": PRODUCTS, "name": "sales.totals", "type": "TABLE"}])
    catalog.ingest(
        run_event(
            "intruder",
            outputs=[dataset("/elsewhere/fake", namespace="file", symlinks=claim, columns=("x",))],
            producer="https://example.com/intruder",
        )
    )
    assert ("file", "/elsewhere/fake") in _datasets(catalog)
    entry = catalog.product("sales.totals", namespace=PRODUCTS)
    assert [f["name"] for f in entry.fields] == ["customer", "total"]


def test_a_symlink_is_honoured_only_from_the_product_s_own_location(catalog_url: str):
    """A `symlinks` facet naming sales.orders on the path of customers.customer names nothing: later lineage that
    reads that path stays on the path, not on sales.orders."""
    catalog = Catalog(catalog_url)
    customer_path = f"{LAKEHOUSE}/customers/customer"
    catalog.ingest(run_event("sales.forged", outputs=[_stored("sales.orders", customer_path)]))
    with catalog.engine.connect() as db:
        assert db.execute(sa.select(m.dataset_symlinks)).all() == []

    catalog.ingest(
        run_event("spark_app.reads_customers", inputs=[dataset(customer_path, namespace="file")], producer=LISTENER)
    )
    assert ("file", customer_path) in _datasets(catalog)
    assert (PRODUCTS, "sales.orders") not in _datasets(catalog)
