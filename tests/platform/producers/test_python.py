"""A Python producer gets its declared inputs; reading another domain's non-public product at run time is refused."""

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from lakemesh import AccessRefused, Settings, data_product, publish, read
from lakemesh.orchestration import LakehouseResource
from lakemesh.orchestration.python_assets import python_product_asset
from lakemesh.storage.reader import reading_as

from ..conftest import contract_doc, write_contract

COLUMNS = [{"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True, "primaryKey": True}]


@pytest.fixture
def published(project: Path, settings: Settings) -> dict[str, str]:
    """shop.secret (internal) and shop.catalogue (public), published once."""
    for product, access in (("shop.secret", "internal"), ("shop.catalogue", "public")):
        contract = write_contract(project, contract_doc(product, columns=COLUMNS, access=access))
        publish(pl.DataFrame({"id": [1, 2]}), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    return {"shop.secret": "internal", "shop.catalogue": "public"}


def test_read_inside_a_producer_refuses_another_domains_non_public_product(published, settings: Settings):
    with reading_as("shop"):
        assert read("shop.secret", settings=settings).height == 2  # its own domain's
    with reading_as("reports"):
        assert read("shop.catalogue", settings=settings).height == 2  # public
        with pytest.raises(AccessRefused, match=r"reports domain read shop.secret, which is internal to the shop"):
            read("shop.secret", settings=settings)
        # a thread the producer starts reads as the producer
        with ThreadPoolExecutor(1) as pool, pytest.raises(AccessRefused, match=r"which is internal to the shop"):
            pool.submit(read, "shop.secret", settings=settings).result()
    assert read("shop.secret", settings=settings).height == 2  # a consumer outside any producer reads as before


def test_a_producer_asset_reading_a_non_public_product_fails_and_publishes_nothing(
    published, project: Path, settings: Settings
):
    contract = write_contract(project, contract_doc("reports.copy", columns=COLUMNS))

    @data_product(name="copy")
    def copy() -> pl.DataFrame:
        return read("shop.secret")

    asset = python_product_asset(copy, contract, settings=Settings.from_env())  # the project of the test
    result = dg.materialize(
        [asset],
        resources={"lakehouse": LakehouseResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "which is internal to the shop domain" in failure.step_failure_data.error.cause.message
    assert not Path(settings.table_uri("reports.copy")).exists()


def test_declared_indirect_lineage_reaches_impact_as_indirect(published, project: Path, settings: Settings):
    """A producer that filters on a column it does not pass on declares it; impact marks the reader indirect."""
    from lakemesh.catalog import Catalog, impact

    contract = write_contract(project, contract_doc("reports.kept", columns=COLUMNS))

    @data_product(name="kept", inputs=["shop.catalogue"], indirect={"FILTER": "catalogue.id"})
    def kept(catalogue: pl.LazyFrame) -> pl.LazyFrame:
        return catalogue.filter(pl.col("id") > 1).select(id=pl.lit(7, pl.Int64))

    asset = python_product_asset(kept, contract, settings=Settings.from_env())
    assert dg.materialize(
        [asset], resources={"lakehouse": LakehouseResource()}, instance=dg.DagsterInstance.ephemeral()
    ).success
    catalog = Catalog(settings.catalog_url)
    (reader,) = impact(catalog, "shop.catalogue", column="id", namespace=settings.namespace)
    assert (reader.name, reader.indirect) == ("reports.kept", True)
    rows = catalog.events(limit=1)[0][0]["outputs"][0]["facets"]["columnLineage"]["dataset"]
    assert [(r["field"], r["transformations"][0]["subtype"]) for r in rows] == [("id", "FILTER")]


@pytest.mark.parametrize(
    ("indirect", "message"),
    [
        ({"WHERE": "catalogue.id"}, "indirect lineage by ['WHERE']; the OpenLineage subtypes are JOIN, FILTER"),
        (
            {"JOIN": ["catalogue.id", "orders.id"]},
            "'JOIN' is declared from 'orders.id'; a source is '<input>.<column>'",
        ),
    ],
)
def test_a_wrong_indirect_declaration_is_refused_when_the_module_loads(indirect: dict, message: str):
    with pytest.raises(TypeError, match=re.escape(message)):

        @data_product(name="kept", inputs=["shop.catalogue"], indirect=indirect)
        def kept(catalogue: pl.LazyFrame) -> pl.LazyFrame:
            return catalogue
