"""Executing checks alone judges the published version: nothing is rebuilt, nothing is written."""

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake
from lakemesh import domain_definitions
from lakemesh.settings import Settings

from domains.customers import products as customers_products

pytestmark = pytest.mark.slow

CHECKS = [
    dg.AssetCheckKey(dg.AssetKey(["customers", "nation"]), "primary_key__unique"),
    dg.AssetCheckKey(dg.AssetKey(["customers", "nation"]), "all_nations"),
    dg.AssetCheckKey(dg.AssetKey(["customers", "customer"]), "nation_key__range"),
]


def _run_checks(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    job = dg.define_asset_job("only_checks", selection=dg.AssetSelection.checks(*CHECKS))
    result = (
        dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
        .resolve_job_def("only_checks")
        .execute_in_process(instance=instance, raise_on_error=False)
    )
    assert not result.get_asset_materialization_events()
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e
        for e in (event.event_specific_data for event in result.all_events)
        if isinstance(e, dg.AssetCheckEvaluation)
    }


def test_executing_checks_alone_judges_the_published_version_without_rebuilding(settings: Settings):
    defs = domain_definitions("customers", products=customers_products)
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance).success

    evaluations = _run_checks(defs, instance)
    assert set(evaluations) == {f"{c.asset_key.to_user_string()}:{c.name}" for c in CHECKS}
    assert all(e.passed for e in evaluations.values())
    assert evaluations["customers/nation:all_nations"].metadata["delta_version"].value == 0

    # a version that breaks the contract, written around the platform: the checks must catch it
    nation = settings.table_uri("customers.nation")
    rows = pl.read_delta(nation)
    write_deltalake(nation, pl.concat([rows, rows.head(1)]).to_arrow(), mode="overwrite")
    evaluations = _run_checks(defs, instance)
    assert not evaluations["customers/nation:primary_key__unique"].passed
    assert evaluations["customers/nation:primary_key__unique"].metadata["delta_version"].value == 1
    assert not evaluations["customers/nation:all_nations"].passed  # 26 rows where 25 are promised
    assert evaluations["customers/customer:nation_key__range"].passed
    assert DeltaTable(nation).version() == 1  # judged, not rebuilt or written
