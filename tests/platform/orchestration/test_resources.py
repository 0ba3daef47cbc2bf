"""The lakehouse resource: a code location loaded once publishes where the environment of each run says."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import DefinitionsInvalid, Settings, data_product
from lakemesh.orchestration import LakehouseResource
from lakemesh.orchestration.factories import producer_assets
from lakemesh.orchestration.python_assets import python_product_asset
from lakemesh.orchestration.resources import lakehouse_resource

from ..conftest import contract_doc, write_contract

COLUMNS = [{"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True}]


@data_product(name="events")
def events() -> pl.DataFrame:
    return pl.DataFrame({"id": [1, 2]})


def test_the_run_publishes_into_the_lakehouse_of_its_own_environment(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    contract = write_contract(project, contract_doc("shop.events", columns=COLUMNS))
    asset = python_product_asset(events, contract, settings=Settings.from_env())  # loaded with the first lakehouse
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("LAKEMESH_LAKEHOUSE", str(elsewhere))

    result = dg.materialize(
        [asset], resources={"lakehouse": LakehouseResource()}, instance=dg.DagsterInstance.ephemeral()
    )

    assert result.success
    assert DeltaTable(str(elsewhere / "shop" / "events")).version() == 0


def test_code_locations_of_one_project_share_one_resource_object(tmp_path: Path):
    """`Definitions.merge` (one run over every location) refuses two different objects under one key."""
    assert lakehouse_resource(tmp_path) is lakehouse_resource(tmp_path)
    assert lakehouse_resource(tmp_path).settings().project_dir == tmp_path


def test_a_producer_of_an_unknown_kind_has_no_asset_factory(project: Path):
    class Unknown:
        product = "shop.events"

    with pytest.raises(DefinitionsInvalid, match=r"shop.events: Lakemesh has no asset factory for a Unknown"):
        producer_assets(Unknown(), contracts={}, settings=Settings.from_env())
