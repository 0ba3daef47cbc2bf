"""The run's summary tells what this run did to each product, whatever another run did meanwhile."""

import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from lakemesh import ContractViolation, Settings, data_product, publish
from lakemesh.orchestration import LakehouseResource
from lakemesh.orchestration.mesh import materialize_mesh
from lakemesh.orchestration.python_assets import python_product_asset
from lakemesh.orchestration.status import mesh_status

from ..conftest import contract_doc, write_contract

COLUMNS = [{"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True, "unique": True}]


@data_product(name="events")
def events() -> pl.DataFrame:
    return pl.DataFrame({"id": [1, 2]})


def test_a_product_this_run_published_shows_this_runs_checks_not_a_concurrent_failure(project: Path):
    here = Settings.from_env()
    contract = write_contract(project, contract_doc("shop.events", columns=COLUMNS))
    asset = python_product_asset(events, contract, settings=here)
    location = dg.Definitions(assets=[asset], resources={"lakehouse": LakehouseResource()})
    result = materialize_mesh(
        {"shop": location}, instance=dg.DagsterInstance.ephemeral(), log_file=project / "run.log", settings=here
    )
    with pytest.raises(ContractViolation):  # another run's refused batch: the catalog's last run is now a failure
        publish(pl.DataFrame({"id": [3, 3]}), contract=contract, settings=here, run_id=str(uuid.uuid4()))

    (status,) = mesh_status(here, run=result)

    checks = len(contract.plan.checks)
    assert (status.name, status.version, status.checks, status.built) == ("shop.events", 0, f"{checks} passed", "whole")
    assert mesh_status(here)[0].checks.startswith("failed: ")  # without the run: the catalog's last run
