"""Publishing one time partition: it replaces that partition and nothing else, once per step and partition, and a
batch holding another partition's rows is refused with nothing written."""

import json
import threading
import uuid
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import ContractViolation, PartitionMismatch, Settings, publish, read
from lakemesh.lineage.validation import check_run_event
from lakemesh.storage.commit import PublishCommit

from ..conftest import contract_doc, write_contract
from ..contracts.test_partitioning import COLUMNS, grained


def _day(day: date, ids: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"id": ids, "order_date": [day] * len(ids)}, schema={"id": pl.Int64, "order_date": pl.Date})


JUNE_30, JULY_1 = date(1995, 6, 30), date(1995, 7, 1)


@pytest.fixture
def contract(project: Path):
    return write_contract(project, contract_doc(columns=COLUMNS))


def _rows(settings: Settings) -> dict[date, list[int]]:
    frame = read("shop.events", settings=settings).sort("id")
    return {day: frame.filter(pl.col("order_date") == day)["id"].to_list() for day in (JUNE_30, JULY_1)}


def test_a_partition_replaces_itself_only_once_per_step(contract, settings: Settings):
    run = str(uuid.uuid4())
    publish(_day(JUNE_30, [1, 2]), contract=contract, settings=settings, run_id=run, partition="1995-06-30")
    publish(_day(JULY_1, [3]), contract=contract, settings=settings, run_id=run, partition="1995-07-01")
    assert _rows(settings) == {JUNE_30: [1, 2], JULY_1: [3]}

    corrected = str(uuid.uuid4())  # a corrected landing day, rebuilt in a later run
    done = publish(_day(JUNE_30, [4]), contract=contract, settings=settings, run_id=corrected, partition="1995-06-30")
    assert (done.version, done.duplicate) == (2, False) and _rows(settings) == {JUNE_30: [4], JULY_1: [3]}
    again = publish(_day(JUNE_30, [4]), contract=contract, settings=settings, run_id=corrected, partition="1995-06-30")
    assert (again.version, again.duplicate) == (2, True)  # a retried step: its commit stands
    assert DeltaTable(settings.table_uri("shop.events")).version() == 2

    records = [PublishCommit.read(c) for c in DeltaTable(settings.table_uri("shop.events")).history()]
    assert [r.partition for r in records] == ["1995-06-30", "1995-07-01", "1995-06-30"]


def test_a_key_is_unique_across_partitions_and_a_partition_may_keep_its_own(contract, settings: Settings):
    publish(
        _day(JUNE_30, [1, 2]), contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition="1995-06-30"
    )
    again = publish(
        _day(JUNE_30, [1, 2]), contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition="1995-06-30"
    )  # fmt: skip  (its own keys: replaced, not duplicated)
    assert again.version == 1
    with pytest.raises(ContractViolation, match="primary_key"):
        publish(
            _day(JULY_1, [2, 3]), contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition="1995-07-01"
        )  # fmt: skip  (key 2 is June 30's)
    assert DeltaTable(settings.table_uri("shop.events")).version() == 1 and _rows(settings)[JULY_1] == []


def test_a_range_of_partitions_is_one_commit_replacing_them_only(contract, settings: Settings):
    may_31 = date(1995, 5, 31)
    publish(pl.concat([_day(may_31, [1]), _day(JUNE_30, [2])]), contract=contract, settings=settings,
            run_id=str(uuid.uuid4()))  # fmt: skip
    run = str(uuid.uuid4())
    june = ("1995-06-01", "1995-06-30")
    done = publish(_day(date(1995, 6, 2), [3]), contract=contract, settings=settings, run_id=run, partition=june)
    again = publish(_day(date(1995, 6, 2), [3]), contract=contract, settings=settings, run_id=run, partition=june)
    assert (done.version, again.version, again.duplicate) == (1, 1, True)  # once per step and range
    assert read("shop.events", settings=settings).sort("id").rows() == [(1, may_31), (3, date(1995, 6, 2))]
    latest = PublishCommit.read(DeltaTable(settings.table_uri("shop.events")).history(1)[0])
    assert latest.partition == "1995-06-01...1995-06-30"
    with pytest.raises(PartitionMismatch, match=r"partition 1995-06-01...1995-06-30 have order_date outside it"):
        publish(_day(JULY_1, [4]), contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition=june)


def test_two_partitions_built_at_once_both_land(contract, settings: Settings):
    publish(_day(JUNE_30, [1]), contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition="1995-06-30")
    run, errors = str(uuid.uuid4()), []

    def build(day: date, ids: list[int]) -> None:
        try:
            publish(_day(day, ids), contract=contract, settings=settings, run_id=run, partition=str(day))
        except Exception as error:  # the test fails below, naming it
            errors.append(error)

    threads = [threading.Thread(target=build, args=args) for args in ((JUNE_30, [5, 6]), (JULY_1, [7]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and _rows(settings) == {JUNE_30: [5, 6], JULY_1: [7]}


@pytest.mark.parametrize(
    ("partition", "rows", "error", "message"),
    [
        ("1995-06-30", pl.concat([_day(JUNE_30, [1]), _day(JULY_1, [2])]), PartitionMismatch,
         "shop.events: 1 row(s) of partition 1995-06-30 have order_date outside it (1995-06-30 <= order_date < "
         "1995-07-01), e.g. 1995-07-01: they would land in another partition; nothing was written"),
        ("1995-06", _day(JUNE_30, [1]), ValueError,
         "shop.events: '1995-06' is not a day partition key such as '1992-01-01'; nothing was written"),
        (("1995-07-01", "1995-06-30"), _day(JUNE_30, [1]), ValueError,
         "shop.events: the partition range 1995-07-01...1995-06-30 runs backwards; nothing was written"),
        ("1991-12-31", _day(date(1991, 12, 31), [1]), ValueError,
         "shop.events: partition 1991-12-31 is before its first partition, 1992-01-01"),
    ],
)  # fmt: skip
def test_a_batch_that_is_not_its_partition_is_refused_and_nothing_is_written(
    contract, settings: Settings, partition: str, rows: pl.DataFrame, error: type, message: str
):
    publish(_day(JUNE_30, [9]), contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition="1995-06-30")
    with pytest.raises(error) as refused:
        publish(rows, contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition=partition)
    assert str(refused.value) == message
    assert DeltaTable(settings.table_uri("shop.events")).version() == 0 and _rows(settings)[JUNE_30] == [9]


def test_a_product_without_partitions_is_published_whole(project: Path, settings: Settings):
    whole = write_contract(project, contract_doc(columns=COLUMNS[:1]))
    with pytest.raises(ValueError, match=r"shop.events is not partitioned .*: publish it whole, without partition"):
        publish(pl.DataFrame({"id": [1]}), contract=whole, settings=settings, run_id=str(uuid.uuid4()),
                partition="1995-06-30")  # fmt: skip
    assert not Path(settings.table_uri("shop.events")).exists()


@pytest.mark.spark
def test_a_spark_batch_replaces_its_partition_and_is_refused_with_another_s_rows(contract, settings: Settings, spark):
    publish(
        pl.concat([_day(JUNE_30, [1]), _day(JULY_1, [2])]),
        contract=contract,
        settings=settings,
        run_id=str(uuid.uuid4()),
    )  # fmt: skip  (the whole table first, then one partition)

    def frame(rows: pl.DataFrame):
        return spark.createDataFrame(rows.to_pandas()).selectExpr(
            "CAST(id AS BIGINT) id", "CAST(order_date AS DATE) order_date"
        )

    done = publish(frame(_day(JULY_1, [3, 4])), contract=contract, settings=settings, run_id=str(uuid.uuid4()),
                   partition="1995-07-01")  # fmt: skip
    assert done.version == 1 and _rows(settings) == {JUNE_30: [1], JULY_1: [3, 4]}
    with pytest.raises(PartitionMismatch, match=r"1 row\(s\) of partition 1995-07-01 .* e\.g\. 1995-06-30"):
        publish(frame(pl.concat([_day(JUNE_30, [5]), _day(JULY_1, [6])])), contract=contract, settings=settings,
                run_id=str(uuid.uuid4()), partition="1995-07-01")  # fmt: skip
    assert DeltaTable(settings.table_uri("shop.events")).version() == 1


def test_a_new_major_version_is_published_whole_before_any_partition(project: Path, contract, settings: Settings):
    run = str(uuid.uuid4())
    publish(pl.concat([_day(JUNE_30, [1]), _day(JULY_1, [2])]), contract=contract, settings=settings, run_id=run)
    monthly = write_contract(project, contract_doc(columns=grained("month"), version="2.0.0"))  # a breaking change
    with pytest.raises(ValueError, match=r"v2\.0\.0 is a new major version, .* publish it whole first, or a range "
                                         r"from its first partition \(1992-01\), not partition 1995-06; nothing was "
                                         r"written"):  # fmt: skip
        publish(_day(JUNE_30, [3]), contract=monthly, settings=settings, run_id=str(uuid.uuid4()), partition="1995-06")
    assert DeltaTable(settings.table_uri("shop.events")).version() == 0
    assert _rows(settings) == {JUNE_30: [1], JULY_1: [2]}
    # its partitions from the first through the newest: the whole table, in the new schema, in one commit
    done = publish(_day(JUNE_30, [3]), contract=monthly, settings=settings, run_id=str(uuid.uuid4()),
                   partition=("1992-01", "1995-06"))  # fmt: skip
    assert done.version == 1 and _rows(settings) == {JUNE_30: [3], JULY_1: []}
    latest = PublishCommit.read(DeltaTable(settings.table_uri("shop.events")).history(1)[0])
    assert latest.partition == "1992-01...1995-06" and latest.contract_version == "2.0.0"


def test_a_row_count_judges_the_table_as_the_partition_s_commit_leaves_it(project: Path, settings: Settings):
    bounded = [{"name": "rows", "metric": "rowCount", "mustBeBetween": [1, 3]}]
    contract = write_contract(project, contract_doc(columns=COLUMNS, quality=bounded))
    publish(
        _day(JUNE_30, [1, 2]), contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition="1995-06-30"
    )
    empty_day = _day(JULY_1, [])
    done = publish(empty_day, contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition="1995-07-01")
    assert done.version == 1  # a day without rows: the table still has June 30's two
    with pytest.raises(ContractViolation, match=r"rows.*measured 4, must be"):  # 2 kept + 2 new
        publish(_day(JULY_1, [3, 4]), contract=contract, settings=settings, run_id=str(uuid.uuid4()),
                partition="1995-07-01")  # fmt: skip
    with pytest.raises(ContractViolation, match=r"rows.*measured 0, must be"):  # June 30 replaced by nothing
        publish(_day(JUNE_30, []), contract=contract, settings=settings, run_id=str(uuid.uuid4()),
                partition="1995-06-30")  # fmt: skip
    assert DeltaTable(settings.table_uri("shop.events")).version() == 1
    assert _rows(settings) == {JUNE_30: [1, 2], JULY_1: []}
    replaced = publish(_day(JUNE_30, [5, 6, 7]), contract=contract, settings=settings, run_id=str(uuid.uuid4()),
                       partition="1995-06-30")  # fmt: skip
    assert replaced.version == 2  # 3 rows: June 30's old two are not counted, they are replaced


def test_a_text_key_is_unique_across_partitions(project: Path, settings: Settings):
    columns = [{"name": "code", "logicalType": "string", "primaryKey": True, "required": True}, COLUMNS[1]]
    contract = write_contract(project, contract_doc(columns=columns))

    def day(when: date, codes: list[str]) -> pl.DataFrame:
        return pl.DataFrame({"code": codes, "order_date": [when] * len(codes)})

    publish(day(JUNE_30, ["AFRICA", "ASIA"]), contract=contract, settings=settings, run_id=str(uuid.uuid4()),
            partition="1995-06-30")  # fmt: skip
    with pytest.raises(ContractViolation, match=r"keys already in the table.*ASIA"):
        publish(day(JULY_1, ["ASIA", "EUROPE"]), contract=contract, settings=settings, run_id=str(uuid.uuid4()),
                partition="1995-07-01")  # fmt: skip
    assert read("shop.events", settings=settings)["code"].sort().to_list() == ["AFRICA", "ASIA"]


def test_a_partition_s_lineage_names_the_rows_it_replaced(contract, settings: Settings, tmp_path, monkeypatch):
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(events))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    june = ("1995-06-01", "1995-06-30")
    publish(_day(JUNE_30, [1]), contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition=june)
    complete = [json.loads(line) for line in events.read_text().splitlines()][-1]
    assert check_run_event(complete)["eventType"] == "COMPLETE"  # OpenLineage's own facet, valid by its schema
    condition = complete["outputs"][0]["outputFacets"]["subset"]["outputCondition"]
    assert condition["operator"] == "AND"
    assert [
        (c["left"]["field"], c["comparison"], c["right"]["value"]) for c in (condition["left"], condition["right"])
    ] == [
        ("order_date", "GREATER_EQUAL_THAN", "1995-06-01"),
        ("order_date", "LESS_THAN", "1995-07-01"),
    ]
