"""A backfill rebuilds a range of a product's partitions (and, downstream, what reads them) in as few runs as the
ranges allow, one commit per product per run, and Dagster records it as a backfill the UI shows; a range that runs
backwards or past the landing data is refused with nothing built."""

import subprocess
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from deltalake import DeltaTable
from lakemesh import PartitionWindow, Settings, data_product
from lakemesh.errors import SelectionInvalid
from lakemesh.orchestration import LakehouseResource
from lakemesh.orchestration.backfills import BACKFILL_TAG
from lakemesh.orchestration.catch_up import backfill
from lakemesh.orchestration.mesh import BackfillRequest, materialize_mesh
from lakemesh.orchestration.python_assets import python_product_asset
from lakemesh.orchestration.recording import instance_at, prepare_instance_home

from ..conftest import contract_doc, write_contract
from .test_catch_up import (  # noqa: F401
    FIRST,
    _built,
    _land,
    _location,
    _partitions_committed,
    _run,
    contracts,
    events,
)


def _backfill(declared, instance: dg.DagsterInstance, *, first: date, last: date, downstream: bool = False,
              record_into: Path | None = None):  # fmt: skip
    settings = Settings.from_env()
    request = BackfillRequest(product="shop.events", first=first, last=last, downstream=downstream)
    return materialize_mesh(
        {"shop": _location(declared)}, instance=instance, log_file=settings.logs_dir / "run.log", settings=settings,
        backfill_request=request, record_into=record_into,
    )  # fmt: skip


@pytest.fixture
def landed(contracts, settings: Settings):  # noqa: F811
    for n in range(6):
        _land(settings, FIRST + timedelta(days=n), [n * 10 + 1])
    assert _run(contracts).success
    return contracts


def test_a_backfill_rebuilds_its_range_in_one_run_and_dagster_records_it(landed, settings: Settings):
    before = DeltaTable(settings.table_uri("shop.events")).version()
    instance = dg.DagsterInstance.ephemeral()

    done = _backfill(landed, instance, first=FIRST + timedelta(days=1), last=FIRST + timedelta(days=3))

    assert done.success and len(done.runs) == 1  # the range: one run, one commit
    assert _built(done)["shop.events"] == "1995-06-02...1995-06-04"
    assert DeltaTable(settings.table_uri("shop.events")).version() == before + 1
    assert _partitions_committed(settings, "shop.events")[-1] == "1995-06-02...1995-06-04"
    assert sorted(pl.read_delta(settings.table_uri("shop.events"))["id"]) == [1, 11, 21, 31, 41, 51]  # nothing lost

    [backfill] = instance.get_backfills()
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS
    assert backfill.title == "shop.events 1995-06-02...1995-06-04"
    [run] = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill.backfill_id}))
    assert run.tags["dagster/asset_partition_range_start"] == "1995-06-02"
    assert run.tags["dagster/asset_partition_range_end"] == "1995-06-04"
    target = backfill.get_asset_backfill_data(done.job.asset_layer.asset_graph).target_subset
    assert sorted(target.get_partitions_subset(dg.AssetKey(["shop", "events"])).get_partition_keys()) == [
        "1995-06-02", "1995-06-03", "1995-06-04"
    ]  # fmt: skip


def test_a_backfill_is_recorded_in_the_ui_s_instance_as_the_cli_runs_it(landed, settings: Settings, tmp_path: Path):
    home = tmp_path / "dagster"
    prepare_instance_home(home)
    with dg.DagsterInstance.ephemeral() as instance:  # the run's own, in memory, as `lakemesh backfill` makes it
        done = _backfill(landed, instance, first=FIRST, last=FIRST + timedelta(days=1), record_into=home)
    assert done.success and done.recorded
    with instance_at(home) as ui:
        [backfill] = ui.get_backfills()
        assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS
        [run] = ui.get_runs(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill.backfill_id}))  # recorded as it ran
        assert run.status == dg.DagsterRunStatus.SUCCESS


def test_a_backfill_downstream_rebuilds_the_readers_too(landed, settings: Settings):
    totals_before = DeltaTable(settings.table_uri("shop.totals")).version()
    done = _backfill(landed, dg.DagsterInstance.ephemeral(), first=FIRST, last=FIRST, downstream=True)
    assert done.success and _built(done) == {"shop.events": "1995-06-01", "shop.totals": "whole"}
    assert DeltaTable(settings.table_uri("shop.totals")).version() == totals_before + 1


@pytest.mark.parametrize(
    ("product", "first", "last", "message"),
    [
        ("shop.events", FIRST + timedelta(days=3), FIRST, r"the range runs backwards \(--from is after --to\)"),
        (
            "shop.events",
            FIRST,
            FIRST + timedelta(days=9),
            r"runs beyond the landing data \(the newest landed day is "
            r"1995-06-06; its last partition, 1995-06-06, reads it\); "
            r"land it first \(`lakemesh generate --until 1995-06-10`\)",
        ),
        (
            "shop.events",
            FIRST - timedelta(days=1),
            FIRST,
            r"starts before shop.events's first partition \(1995-06-01\)",
        ),
        ("shop.totals", FIRST, FIRST, r"shop.totals is not partitioned .* `lakemesh run --select shop.totals`"),
        ("shop.event", FIRST, FIRST, r"there is no product shop.event; did you mean shop.events\?"),
    ],
)
def test_a_bad_backfill_is_refused_and_builds_nothing(landed, settings: Settings, product, first, last, message):
    versions = {p: DeltaTable(settings.table_uri(p)).version() for p in ("shop.events", "shop.totals")}
    instance = dg.DagsterInstance.ephemeral()
    with pytest.raises(SelectionInvalid, match=message + r".*nothing was built"):
        request = BackfillRequest(product=product, first=first, last=last)
        materialize_mesh({"shop": _location(landed)}, instance=instance, log_file=settings.logs_dir / "run.log",
                         settings=Settings.from_env(), backfill_request=request)  # fmt: skip
    assert {p: DeltaTable(settings.table_uri(p)).version() for p in versions} == versions
    assert instance.get_backfills() == [] and instance.get_runs() == []


def test_a_backfill_whose_run_fails_is_recorded_as_failed(landed, settings: Settings):
    (settings.landing / "events" / "1995-06-03.parquet").unlink()  # a day gone: its partition fails
    instance = dg.DagsterInstance.ephemeral()
    done = _backfill(landed, instance, first=FIRST + timedelta(days=2), last=FIRST + timedelta(days=2))
    assert not done.success
    [backfill] = instance.get_backfills()
    assert backfill.status == BulkActionStatus.COMPLETED_FAILED
    data = backfill.get_asset_backfill_data(done.job.asset_layer.asset_graph)
    assert data.materialized_subset.is_empty and not data.failed_and_downstream_subset.is_empty
    assert sorted(pl.read_delta(settings.table_uri("shop.events"))["id"]) == [1, 11, 21, 31, 41, 51]  # kept


def test_the_cli_refuses_a_reversed_range_before_loading_anything(project: Path, settings: Settings):
    answer = subprocess.run(
        ["lakemesh", "backfill", "sales.orders", "--from", "1995-07-02", "--to", "1995-07-01"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert answer.returncode == 2, answer.stdout + answer.stderr
    assert "backfill sales.orders 1995-07-02...1995-07-01: the range runs backwards" in answer.stdout + answer.stderr
    assert not Path(settings.table_uri("sales.orders")).exists()


@data_product(name="months", inputs=["shop.events"])
def months(events: pl.LazyFrame, window: PartitionWindow) -> pl.LazyFrame:
    month = pl.col("order_date").dt.truncate("1mo")
    return (
        events.filter(month >= window.first, month < window.end)
        .group_by(month.alias("month"))
        .agg(count=pl.len().cast(pl.Int64))
    )


def test_downstream_reaches_the_partitions_of_another_grain_that_read_the_range(contracts, project, settings):  # noqa: F811
    for n in range(32):  # 1995-06-01 ... 1995-07-02
        _land(settings, FIRST + timedelta(days=n), [n])
    monthly = write_contract(project, contract_doc("shop.months", columns=[
        {"name": "month", "logicalType": "date", "required": True, "primaryKey": True, "partitioned": True,
         "partitionKeyPosition": 1, "customProperties": [{"property": "partitionGrain", "value": "month"},
                                                         {"property": "partitionStart", "value": "1995-06-01"},
                                                         {"property": "partitionLookback", "value": 1}]},
        {"name": "count", "logicalType": "integer", "physicalType": "bigint", "required": True},
    ]))  # fmt: skip
    declared = {**contracts, "shop.months": monthly}
    here = Settings.from_env()
    location = dg.Definitions(
        assets=[
            python_product_asset(events, declared["shop.events"], settings=here, inputs=declared),
            python_product_asset(months, monthly, settings=here, inputs=declared),
        ],
        resources={"lakehouse": LakehouseResource()},
    )
    graph = location.resolve_implicit_global_asset_job_def().asset_layer.asset_graph
    june_15 = FIRST + timedelta(days=14)
    plan = backfill(graph, dg.AssetKey(["shop", "events"]), days=(june_15, june_15 + timedelta(days=1)),
                    settings=here, downstream=True)  # fmt: skip
    assert [(sorted(k.to_user_string() for k in b.keys), b.partitions) for b in plan] == [
        (["shop/events"], ("1995-06-15", "1995-06-15")),
        (["shop/months"], ("1995-06", "1995-07")),  # its month, and July, which reads June (lookback 1); not August
    ]
    alone = backfill(graph, dg.AssetKey(["shop", "events"]), days=(june_15, june_15 + timedelta(days=1)),
                     settings=here)  # fmt: skip
    assert [b.partitions for b in alone] == [("1995-06-15", "1995-06-15")]  # without --downstream: itself only
