"""A run catches up: it builds exactly the partitions that are missing or older than the landing days and input
partitions they read (and the products reading them), in dependency order, and nothing the second time."""

import os
import shutil
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import Settings, data_product, publish
from lakemesh.contracts import Contract
from lakemesh.contracts.partitioning import Partitioning
from lakemesh.orchestration import LakehouseResource
from lakemesh.orchestration.catch_up import Build, built_through, catch_up, landing_times
from lakemesh.orchestration.mesh import materialize_mesh
from lakemesh.orchestration.partitions import partition_mapping, partitions_definition
from lakemesh.orchestration.python_assets import python_product_asset
from lakemesh.orchestration.status import MeshRun, mesh_status
from lakemesh.storage.commit import PublishCommit

from ..conftest import contract_doc, write_contract
from ..contracts.test_partitioning import grained

FIRST = date(1995, 6, 1)


def _land(settings: Settings, day: date, ids: list[int]) -> Path:
    folder = settings.landing / "events"
    folder.mkdir(exist_ok=True)
    path = folder / f"{day.isoformat()}.parquet"
    pl.DataFrame({"id": ids, "order_date": [day] * len(ids)}).write_parquet(path)
    return path


@data_product(name="events", landing=["events"])
def events(events: pl.LazyFrame) -> pl.LazyFrame:
    return events


@data_product(name="totals", inputs=["shop.events"])
def totals(events: pl.LazyFrame) -> pl.LazyFrame:
    return events.group_by("order_date").agg(count=pl.len().cast(pl.Int64)).rename({"order_date": "day"})


@pytest.fixture
def contracts(project: Path, settings: Settings) -> dict[str, Contract]:
    for table in ("orders", "lineitem"):  # the landing zone's days are this test's only: its newest is theirs
        shutil.rmtree(settings.landing / table)
    daily = write_contract(project, contract_doc("shop.events", columns=grained("day", "1995-06-01")))
    whole = write_contract(
        project,
        contract_doc(
            "shop.totals",
            columns=[
                {"name": "day", "logicalType": "date", "required": True, "primaryKey": True},
                {"name": "count", "logicalType": "integer", "physicalType": "bigint", "required": True},
            ],
        ),
    )
    return {"shop.events": daily, "shop.totals": whole}


def _location(contracts: dict[str, Contract]) -> dg.Definitions:
    settings = Settings.from_env()  # the test's project
    assets = [
        python_product_asset(events, contracts["shop.events"], settings=settings, inputs=contracts),
        python_product_asset(totals, contracts["shop.totals"], settings=settings, inputs=contracts),
    ]
    return dg.Definitions(assets=assets, resources={"lakehouse": LakehouseResource()})


def _run(contracts: dict[str, Contract]) -> MeshRun:
    """A run as `lakemesh run` makes it, the code location loaded afresh (its partitions reach the newest day)."""
    location = _location(contracts)
    settings = Settings.from_env()
    return materialize_mesh(
        {"shop": location}, instance=dg.DagsterInstance.ephemeral(), log_file=settings.logs_dir / "run.log",
        settings=settings,
    )  # fmt: skip


def _built(run: MeshRun) -> dict[str, str]:
    return {status.name: status.built for status in mesh_status(Settings.from_env(), run=run)}


def _partitions_committed(settings: Settings, product: str) -> list[str | None]:
    history = DeltaTable(settings.table_uri(product)).history()
    return [record.partition for record in map(PublishCommit.read, reversed(history)) if record and record.of_publish]


def test_a_run_builds_what_is_missing_or_outdated_and_the_next_builds_nothing(contracts, settings: Settings):
    for n in range(5):
        _land(settings, FIRST + timedelta(days=n), [n * 10 + 1, n * 10 + 2])

    first = _run(contracts)
    assert first.success
    assert [(b.partitions, sorted(k.to_user_string() for k in b.keys)) for b in first.planned] == [
        (("1995-06-01", "1995-06-05"), ["shop/events"]),
        (None, ["shop/totals"]),
    ]
    assert _built(first) == {"shop.events": "1995-06-01...1995-06-05", "shop.totals": "whole"}
    assert _partitions_committed(settings, "shop.events") == ["1995-06-01...1995-06-05"]  # one commit for the range

    second = _run(contracts)
    assert second.planned == [] and second.runs == [] and second.success
    assert _built(second) == {"shop.events": "up to date", "shop.totals": "up to date"}

    _land(settings, FIRST + timedelta(days=5), [61])  # a new day
    third = _run(contracts)
    assert _built(third) == {"shop.events": "1995-06-06", "shop.totals": "whole"}
    assert _partitions_committed(settings, "shop.events")[-1] == "1995-06-06"

    time.sleep(0.01)
    corrected = _land(settings, FIRST + timedelta(days=2), [21, 22, 23])  # a landing day rewritten after it was built
    os.utime(corrected)
    fourth = _run(contracts)
    assert _built(fourth) == {"shop.events": "1995-06-03", "shop.totals": "whole"}
    frame = pl.read_delta(settings.table_uri("shop.events"))
    assert sorted(frame.filter(pl.col("order_date") == FIRST + timedelta(days=2))["id"]) == [21, 22, 23]
    assert frame.height == 5 * 2 + 1 + 1  # nothing lost, nothing doubled: the corrected day holds 3 rows, not 2
    totals_frame = pl.read_delta(settings.table_uri("shop.totals"))
    assert totals_frame.filter(pl.col("day") == FIRST + timedelta(days=2))["count"].item() == 3


def test_a_day_that_did_not_land_fails_its_partition_alone(contracts, settings: Settings):
    for n in (0, 1, 3, 4):  # 1995-06-03 is missing
        _land(settings, FIRST + timedelta(days=n), [n + 1])
    (settings.landing / "events" / "1995-06-05.parquet").unlink()
    pl.DataFrame({"id": [], "order_date": []}, schema={"id": pl.Int64, "order_date": pl.Date}).write_parquet(
        settings.landing / "events" / "1995-06-05.parquet"
    )  # and 1995-06-05 landed empty: the newest day, so it is a partition too

    run = _run(contracts)

    assert not run.success
    spans = [b.partitions for b in run.planned if b.partitions]
    assert spans == [("1995-06-01", "1995-06-02"), ("1995-06-03", "1995-06-03"), ("1995-06-04", "1995-06-04"),
                     ("1995-06-05", "1995-06-05")]  # fmt: skip
    failures = [e.step_failure_data.error.cause.message for e in run.all_events if e.is_step_failure]
    assert any("no data for 1995-06-03: no file 1995-06-03.parquet" in f for f in failures), failures
    assert any("no data for 1995-06-05: 1995-06-05.parquet has no rows" in f for f in failures), failures
    published = sorted(pl.read_delta(settings.table_uri("shop.events"))["order_date"].unique())
    assert published == [FIRST, FIRST + timedelta(days=1), FIRST + timedelta(days=3)]  # the others landed
    statuses = {s.name: s for s in mesh_status(Settings.from_env(), run=run)}
    assert statuses["shop.totals"].checks == "not run: an input failed"
    graph = _location(contracts).resolve_implicit_global_asset_job_def().asset_layer.asset_graph
    selected = catch_up(graph, settings=Settings.from_env(), selected={dg.AssetKey(["shop", "events"])})
    assert [b.partitions for b in selected] == spans  # built in full when selected, the missing days alone
    assert not Path(settings.table_uri("shop.totals")).exists()


def test_changed_code_rebuilds_every_partition(contracts, settings: Settings):
    for n in range(3):
        _land(settings, FIRST + timedelta(days=n), [n])
    assert _run(contracts).success

    @data_product(name="events", landing=["events"])
    def events(events: pl.LazyFrame) -> pl.LazyFrame:  # new code: its code version changes
        return events.with_columns(pl.col("id") + 100)

    here = Settings.from_env()
    location = dg.Definitions(
        assets=[python_product_asset(events, contracts["shop.events"], settings=here, inputs=contracts)],
        resources={"lakehouse": LakehouseResource()},
    )
    job = location.resolve_implicit_global_asset_job_def()
    assert catch_up(job.asset_layer.asset_graph, settings=here) == [
        Build(keys=frozenset({dg.AssetKey(["shop", "events"])}), partitions=("1995-06-01", "1995-06-03"))
    ]


def test_partitions_reach_the_newest_landed_day_and_map_across_grains():
    daily = Partitioning(column="order_date", grain="day", start=date(1995, 1, 1))
    monthly = Partitioning(column="ship_date", grain="month", start=date(1995, 1, 1), lookback=4)
    days = partitions_definition(daily, through=date(1995, 7, 1))
    months = partitions_definition(monthly, through=date(1995, 7, 1))
    assert (days.get_first_partition_key(), days.get_last_partition_key()) == ("1995-01-01", "1995-07-01")
    # the month holding the newest day, still arriving, and the four after it, which read it
    assert months.get_last_partition_key() == "1995-11"
    assert partitions_definition(daily, through=None).get_partition_keys() == []  # nothing landed: no partition
    today = date.today()  # live data: today's partition exists once today has landed, not only tomorrow
    this_week = Partitioning(column="order_date", grain="day", start=today - timedelta(days=6))
    assert partitions_definition(this_week, through=today).get_last_partition_key() == today.isoformat()

    to_month = partition_mapping(monthly, daily)
    upstream = to_month.get_upstream_mapped_partitions_result_for_partitions(
        months.subset_with_partition_keys(["1995-06"]), months, days
    ).partitions_subset.get_partition_keys()
    assert (upstream[0], upstream[-1]) == ("1995-02-01", "1995-06-30")  # the ship month reads four months back
    assert monthly.reads(*monthly.window("1995-06")) == (date(1995, 2, 1), date(1995, 7, 1))  # as the step reads
    assert monthly.reads(*monthly.window("1995-01")) == (date(1994, 9, 1), date(1995, 2, 1))  # inputs start earlier
    downstream = to_month.get_downstream_partitions_for_partitions(
        days.subset_with_partition_keys(["1995-03-15"]), days, months
    ).get_partition_keys()
    assert downstream == ["1995-03", "1995-04", "1995-05", "1995-06", "1995-07"]
    assert isinstance(partition_mapping(None, daily), dg.AllPartitionMapping)  # a whole product reads every day
    assert partition_mapping(monthly, None) is None


@data_product(name="counts", inputs=["shop.events"])
def counts(events: pl.LazyFrame) -> pl.LazyFrame:
    return events.group_by("order_date").agg(count=pl.len().cast(pl.Int64))


def test_a_partition_that_failed_stops_only_the_days_that_read_it(contracts, project: Path, settings: Settings):
    """A partitioned reader of a partitioned product: the day that did not land fails, and only that day of the
    reader is left out; the reader's other days are built."""
    daily = contract_doc("shop.counts", columns=[*grained("day", "1995-06-01"),
                                                 {"name": "count", "logicalType": "integer", "physicalType": "bigint",
                                                  "required": True}])  # fmt: skip
    daily["schema"][0]["properties"] = [p for p in daily["schema"][0]["properties"] if p["name"] != "id"]
    contracts = {**contracts, "shop.counts": write_contract(project, daily)}
    for n in (0, 1, 3):  # 1995-06-03 did not land
        _land(settings, FIRST + timedelta(days=n), [n + 1])
    here = Settings.from_env()
    location = dg.Definitions(
        assets=[
            python_product_asset(events, contracts["shop.events"], settings=here, inputs=contracts),
            python_product_asset(counts, contracts["shop.counts"], settings=here, inputs=contracts),
        ],
        resources={"lakehouse": LakehouseResource()},
    )

    run = materialize_mesh({"shop": location}, instance=dg.DagsterInstance.ephemeral(),
                           log_file=here.logs_dir / "run.log", settings=here)  # fmt: skip

    assert not run.success
    published = pl.read_delta(settings.table_uri("shop.counts")).sort("order_date")
    assert published["order_date"].to_list() == [FIRST, FIRST + timedelta(days=1), FIRST + timedelta(days=3)]

    again = catch_up(location.resolve_implicit_global_asset_job_def().asset_layer.asset_graph, settings=here)
    assert [(b.partitions, sorted(".".join(k.path) for k in b.keys)) for b in again] == [
        (("1995-06-03", "1995-06-03"), ["shop.counts", "shop.events"]),
    ]  # the day is still missing: tried again, alone, and nothing else


def test_a_changed_contract_judges_every_partition_again(contracts, project: Path, settings: Settings):
    for n in range(2):
        _land(settings, FIRST + timedelta(days=n), [n])
    assert _run(contracts).success
    doc = contract_doc("shop.events", columns=grained("day", "1995-06-01"), version="1.1.0")
    doc["schema"][0]["properties"][0]["description"] = "Now described."
    changed = {**contracts, "shop.events": write_contract(project, doc)}
    here = Settings.from_env()
    job = _location(changed).resolve_implicit_global_asset_job_def()
    (build, whole) = catch_up(job.asset_layer.asset_graph, settings=here)
    assert build.partitions == ("1995-06-01", "1995-06-02") and whole.keys == {dg.AssetKey(["shop", "totals"])}


def test_a_partitioned_product_s_newest_partition_is_judged_against_the_newest_landed_day(contracts, settings):
    for n in range(3):
        _land(settings, FIRST + timedelta(days=n), [n])
    assert _run(contracts).success
    newest = {status.name: status.newest for status in mesh_status(Settings.from_env())}
    assert newest == {"shop.events": "1995-06-03", "shop.totals": "-"}  # current; a whole product has none
    _land(settings, FIRST + timedelta(days=4), [4])  # two days landed since, not yet built
    assert mesh_status(Settings.from_env())[0].newest == "1995-06-03 (2 d behind)"


def test_a_new_major_version_rebuilds_every_partition_from_the_first(contracts, project: Path, settings: Settings):
    for n in range(32):  # 1995-06-01 ... 1995-07-02
        _land(settings, FIRST + timedelta(days=n), [n])
    assert _run(contracts).success
    monthly = write_contract(
        project, contract_doc("shop.events", columns=grained("month", "1995-06-01"), version="2.0.0")
    )  # fmt: skip  (other partitions: breaking)
    changed = {**contracts, "shop.events": monthly}
    run = _run(changed)
    assert run.success, [e.step_failure_data.error.to_string() for e in run.all_events if e.is_step_failure]
    # every partition (the contract changed), from the first: its commit replaces the table in the new schema
    assert [b.partitions for b in run.planned if b.partitions] == [("1995-06", "1995-07")]
    assert _partitions_committed(settings, "shop.events")[-1] == "1995-06...1995-07"
    assert sorted(pl.read_delta(settings.table_uri("shop.events"))["id"]) == list(range(32))
    assert _run(changed).planned == []  # and then up to date


def test_a_month_is_built_through_the_days_landed_before_its_commit(project: Path, settings: Settings):
    for table in ("orders", "lineitem"):
        shutil.rmtree(settings.landing / table)
    monthly = write_contract(project, contract_doc("shop.events", columns=grained("month", "1995-06-01")))
    for n in range(3):
        _land(settings, FIRST + timedelta(days=n), [n])
    june = pl.DataFrame({"id": [1], "order_date": [FIRST]})
    publish(june, contract=monthly, settings=settings, run_id=str(uuid.uuid4()), partition="1995-06")
    assert built_through(monthly, settings=settings, landed=landing_times(settings.landing)) == FIRST + timedelta(
        days=2
    )
    time.sleep(0.01)
    _land(settings, FIRST + timedelta(days=3), [3])  # June 4 lands after June was built: June is one day behind
    assert built_through(monthly, settings=settings, landed=landing_times(settings.landing)) == FIRST + timedelta(
        days=2
    )
    publish(june, contract=monthly, settings=settings, run_id=str(uuid.uuid4()), partition="1995-06")
    assert built_through(monthly, settings=settings, landed=landing_times(settings.landing)) == FIRST + timedelta(
        days=3
    )
    time.sleep(0.01)
    for n in range(4):  # every day landed again since: the product has seen none of them
        _land(settings, FIRST + timedelta(days=n), [n])
    assert built_through(monthly, settings=settings, landed=landing_times(settings.landing)) == FIRST - timedelta(
        days=1
    )
