"""A Spark producer gets its inputs as Spark DataFrames at the pinned versions and must return one."""

import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import Settings, publish, spark_product
from lakemesh.orchestration import LakehouseResource, SparkResource
from lakemesh.orchestration.python_assets import python_product_asset
from lakemesh.storage.commit import published_fields
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..conftest import contract_doc, write_contract

pytestmark = pytest.mark.spark

KEY = {"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True, "primaryKey": True}
AMOUNT = {"name": "amount", "logicalType": "number", "physicalType": "double", "required": True}


@pytest.fixture
def events(project: Path, settings: Settings) -> Path:
    """shop.events published twice (v0: 2 rows, v1: 3 rows)."""
    contract = write_contract(project, contract_doc("shop.events", columns=[KEY, AMOUNT]))
    for rows in ([1, 2], [1, 2, 3]):
        frame = pl.DataFrame({"id": rows, "amount": [10.0 * r for r in rows]})
        publish(frame, contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    return project


def _materialize(product, settings: Settings) -> dg.ExecuteInProcessResult:
    """shop.totals (count and sum of shop.events) made by `product` through its Dagster asset."""
    total = {"name": "total", "logicalType": "number", "physicalType": "double", "required": True}
    count = {"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True}
    contract = write_contract(
        settings.project_dir, contract_doc("shop.totals", columns=[count, total], custom={"producer": "spark"})
    )
    asset = python_product_asset(product, contract, settings=settings)
    return dg.materialize(
        [asset],
        resources={"spark": SparkResource(), "lakehouse": LakehouseResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_a_spark_producer_reads_the_pinned_version_and_its_result_is_written_by_spark(
    spark, events: Path, settings: Settings
):
    seen = {}

    @spark_product(name="totals", inputs=["shop.events"], columns={"total": "events.amount"})
    def totals(events: DataFrame) -> DataFrame:
        seen["type"] = type(events).__name__
        return events.agg(F.count(F.lit(1)).alias("id"), F.sum("amount").alias("total"))

    result = _materialize(totals, Settings.from_env())
    assert result.success
    assert seen["type"] == "DataFrame"
    (materialization,) = result.asset_materializations_for_node("shop__totals")
    assert materialization.metadata["inputs"].value == {"shop.events": 1}  # the version current when the run began
    table = DeltaTable(settings.table_uri("shop.totals"))
    assert pl.read_delta(table).rows() == [(3, 60.0)]
    commit = table.history()[0]
    assert commit["engineInfo"].startswith("Apache-Spark/")
    assert published_fields(commit)["lakemesh.inputs"] == '{"shop.events": 1}'


def test_a_spark_producer_returning_something_else_is_refused_naming_it(spark, events: Path, settings: Settings):
    @spark_product(name="totals", inputs=["shop.events"])
    def totals(events: DataFrame) -> pl.DataFrame:
        return pl.from_pandas(events.toPandas())

    result = _materialize(totals, Settings.from_env())
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.cause.message
    assert f"the Spark producer {__name__}." in message and "totals returned polars" in message
    assert "not a Spark DataFrame; nothing was published" in message
    assert not Path(settings.table_uri("shop.totals")).exists()


def test_a_spark_producer_is_declared_like_a_python_one():
    with pytest.raises(TypeError, match=r"takes \['orders'\] but declares inputs \['events'\]"):

        @spark_product(inputs=["shop.events"])
        def wrong(orders: DataFrame) -> DataFrame:
            return orders
