"""The gate on Spark: the same verdicts as on polars, refused rows quarantined by Spark, accepted ones written
by Spark in one exactly-once commit that every other Delta reader understands."""

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import ContractViolation, Settings, publish
from lakemesh.quality.spark_backend import validate_spark
from lakemesh.storage.commit import APP_ID_KEY, CONTRACT_KEY, published_fields

from ..conftest import contract_doc, write_contract

pytestmark = pytest.mark.spark

RUN = "6a1f0c1e-0000-4000-8000-0000000000aa"
SCHEMA = "id bigint, supplier string, days int, shipped date, secret string"
COLUMNS = [
    {"name": "id", "logicalType": "integer", "physicalType": "bigint", "primaryKey": True, "required": True},
    {"name": "supplier", "logicalType": "string", "required": True, "enum": [{"value": "ACME"}, {"value": "BOLT"}]},
    {"name": "days", "logicalType": "integer", "physicalType": "int", "logicalTypeOptions": {"minimum": 0}},
    {"name": "shipped", "logicalType": "date", "required": True},
    {
        "name": "secret",
        "logicalType": "string",
        "classification": "confidential",
        "logicalTypeOptions": {"pattern": "^s"},
    },
]
QUALITY = [
    {"name": "enough_rows", "metric": "rowCount", "mustBeGreaterThan": 1},
    {"name": "few_slow", "type": "sql", "query": "select count(*) from ${object} where days > 30", "mustBeLessThan": 2},
]
GOOD = [
    (1, "ACME", 3, date(2024, 1, 5), "s1"),
    (2, "BOLT", 40, date(2024, 1, 9), "s2"),
    (3, "ACME", None, date(2024, 2, 1), None),
]
BAD = [
    (1, "ACME", 3, date(2024, 1, 5), "s1"),
    (2, "NOPE", 5, date(2024, 1, 9), "s2"),  # not an allowed supplier
    (3, "ACME", -4, date(2024, 2, 1), "s3"),  # negative days
    (3, "BOLT", 1, date(2024, 2, 2), "s4"),  # duplicate key
    (5, None, 1, date(2024, 2, 2), "x5"),  # missing supplier; a secret breaking its pattern
    (6, "ACME", 1, date(2024, 2, 2), "s6"),  # a good row
]


def _contract(project: Path, *, mode: str = "overwrite"):
    return write_contract(project, contract_doc("shop.deliveries", columns=COLUMNS, quality=QUALITY, mode=mode))


def _polars(rows: list[tuple]) -> pl.DataFrame:
    schema = {"id": pl.Int64, "supplier": pl.String, "days": pl.Int32, "shipped": pl.Date, "secret": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_an_accepted_spark_batch_is_one_native_spark_commit_exactly_once(spark, project: Path, settings: Settings):
    contract = _contract(project)
    result = publish(spark.createDataFrame(GOOD, SCHEMA), contract=contract, settings=settings, run_id=RUN, step="s")
    assert (result.version, result.rows, result.duplicate, result.report.passed) == (0, 3, False, True)

    again = publish(spark.createDataFrame(GOOD, SCHEMA), contract=contract, settings=settings, run_id=RUN, step="s")
    assert (again.version, again.duplicate, again.rows) == (0, True, 3)  # the step's commit stands: not written twice

    table = DeltaTable(settings.table_uri("shop.deliveries"))
    assert table.version() == 0
    commit = table.history()[0]
    assert commit["engineInfo"].startswith("Apache-Spark/")  # written by Spark, not by deltalake
    fields = published_fields(commit)
    app_id = f"lakemesh/shop.deliveries/{RUN}/s"
    assert fields[APP_ID_KEY] == app_id and fields["lakemesh.runId"] == RUN
    assert fields["lakemesh.contractId"] == contract.id and '"urn:test:shop:deliveries"' in fields[CONTRACT_KEY]
    assert table.transaction_version(app_id) == 0  # Delta's txn: Spark itself skips a replay of this step
    assert table.metadata().configuration.get("delta.enableExpiredLogCleanup") == "false"
    assert pl.read_delta(table).sort("id")["days"].to_list() == [3, 40, None]


def test_a_refused_spark_batch_leaves_the_current_version_and_quarantines_only_its_failing_rows(
    spark, project: Path, settings: Settings
):
    contract = _contract(project)
    publish(spark.createDataFrame(GOOD, SCHEMA), contract=contract, settings=settings, run_id=RUN, step="good")
    with pytest.raises(ContractViolation) as refused:
        publish(spark.createDataFrame(BAD, SCHEMA), contract=contract, settings=settings, run_id=RUN, step="bad")
    message = str(refused.value)
    assert "version 0 stays current" in message
    assert "column 'supplier', check 'supplier__not_null': 1 row" in message
    assert "check 'supplier__allowed_values': 1 row (e.g. NOPE)" in message
    assert "check 'days__range': 1 row (e.g. -4)" in message
    assert "check 'primary_key__unique': 2 rows (e.g. 3)" in message
    assert "check 'secret__pattern': 1 row (values redacted" in message and "x5" not in message

    table = DeltaTable(settings.table_uri("shop.deliveries"))
    assert table.version() == 0 and pl.read_delta(table).height == 3
    quarantine = DeltaTable(settings.quarantine_uri("shop.deliveries"))
    assert quarantine.history()[0]["engineInfo"].startswith("Apache-Spark/")
    kept = pl.read_delta(quarantine).sort("id", "supplier", nulls_last=True)
    assert kept["id"].to_list() == ["2", "3", "3", "5"]  # every failing row, as text; the good ones are not there
    assert set(kept["_lakemesh_run_id"]) == {RUN}
    assert "supplier__allowed_values" in kept["_lakemesh_failed_checks"][0]


def test_spark_and_polars_give_the_same_verdict_on_the_same_batch(spark, project: Path, settings: Settings):
    contract = _contract(project)
    verdicts = []
    for data in (spark.createDataFrame(BAD, SCHEMA), _polars(BAD)):
        with pytest.raises(ContractViolation) as refused:
            publish(data, contract=contract, settings=settings, run_id=RUN)
        verdicts.append([(f.check, f.rows, f.examples) for f in refused.value.report.failures])
    assert verdicts[0] == verdicts[1]  # keys only in examples: the confidential column never shows (it did on polars)
    assert [check for check, _, _ in verdicts[0]] == [
        "primary_key__unique",
        "supplier__not_null",
        "supplier__allowed_values",
        "days__range",
        "secret__pattern",
    ]


def test_table_metrics_and_sql_rules_are_judged_on_spark(spark, project: Path, settings: Settings):
    contract = _contract(project)
    slow = [(1, "ACME", 31, date(2024, 1, 5), "s1"), (2, "ACME", 45, date(2024, 1, 6), "s2")]
    # the query may read the confidential column: what it measures is not shown
    with pytest.raises(ContractViolation, match=r"check 'few_slow': the whole batch: measured <redacted>, must be < 2"):
        publish(spark.createDataFrame(slow, SCHEMA), contract=contract, settings=settings, run_id=RUN)
    with pytest.raises(ContractViolation, match=r"check 'enough_rows': the whole batch: measured 1, must be > 1"):
        publish(spark.createDataFrame(slow[:1], SCHEMA), contract=contract, settings=settings, run_id=RUN)
    assert not Path(settings.table_uri("shop.deliveries")).exists()
    assert pl.read_delta(settings.quarantine_uri("shop.deliveries")).height == 3  # whole batches: 2 + 1 rows


def test_the_gate_leaves_the_batch_cached_for_the_write(spark, project: Path):
    """Dropping the SQL rule's view must not uncache the batch, or the write would compute it all again."""
    batch = spark.createDataFrame(GOOD, SCHEMA).persist()
    batch.count()
    assert validate_spark(batch, _contract(project)).report.passed  # it ran the SQL rule over a view of the batch
    assert "InMemoryRelation" in batch._jdf.queryExecution().withCachedData().toString()
    batch.unpersist()


def test_a_spark_batch_of_the_wrong_shape_is_refused_naming_each_column(spark, project: Path, settings: Settings):
    contract = _contract(project)
    wrong = spark.createDataFrame([(1, "ACME", "3", date(2024, 1, 5), 7)], "id bigint, supplier string, days string, "
                                  "shipped date, extra int")  # fmt: skip
    with pytest.raises(ContractViolation) as refused:
        publish(wrong, contract=contract, settings=settings, run_id=RUN)
    message = str(refused.value)
    assert "check 'schema': the whole batch" in message
    assert "days: string, expected int" in message
    assert "extra: not in the contract" in message and "secret: missing" in message and "id:" not in message
    assert not Path(settings.table_uri("shop.deliveries")).exists()
    assert pl.read_delta(settings.quarantine_uri("shop.deliveries"))["extra"].to_list() == ["7"]


def test_a_spark_append_may_not_repeat_a_published_key(spark, project: Path, settings: Settings):
    contract = _contract(project, mode="append")
    publish(spark.createDataFrame(GOOD, SCHEMA), contract=contract, settings=settings, run_id=RUN, step="first")
    repeat = [(3, "BOLT", 1, date(2024, 3, 1), "s9"), (4, "BOLT", 1, date(2024, 3, 1), "s8")]
    with pytest.raises(ContractViolation, match=r"check 'primary_key__unique': 1 row: keys already in the table"):
        publish(spark.createDataFrame(repeat, SCHEMA), contract=contract, settings=settings, run_id=RUN, step="2nd")
    fresh = [(4, "BOLT", 1, date(2024, 3, 1), "s8"), (5, "ACME", 2, date(2024, 3, 2), "s7")]
    assert publish(spark.createDataFrame(fresh, SCHEMA), contract=contract, settings=settings, run_id=RUN).version == 1
    assert sorted(pl.read_delta(settings.table_uri("shop.deliveries"))["id"]) == [1, 2, 3, 4, 5]
    assert pl.read_delta(settings.quarantine_uri("shop.deliveries"))["id"].to_list() == ["3"]


def test_a_spark_merge_upserts_on_the_key_in_one_commit_carrying_the_platform_fields(
    spark, project: Path, settings: Settings
):
    contract = _contract(project, mode="merge")
    publish(spark.createDataFrame(GOOD, SCHEMA), contract=contract, settings=settings, run_id=RUN, step="first")
    changed = [(2, "ACME", 4, date(2024, 3, 1), "s2b"), (4, "BOLT", 1, date(2024, 3, 1), "s4")]
    merged = publish(spark.createDataFrame(changed, SCHEMA), contract=contract, settings=settings, run_id=RUN)
    again = publish(spark.createDataFrame(changed, SCHEMA), contract=contract, settings=settings, run_id=RUN)
    assert (merged.version, again.version, again.duplicate) == (1, 1, True)
    table = DeltaTable(settings.table_uri("shop.deliveries"))
    assert table.version() == 1 and table.history(1)[0]["operation"] == "MERGE"
    fields = published_fields(table.history(1)[0])
    assert fields["lakemesh.runId"] == RUN and fields["lakemesh.contractId"] == contract.id
    rows = pl.read_delta(settings.table_uri("shop.deliveries")).sort("id").select("id", "supplier", "secret").rows()
    assert rows == [(1, "ACME", "s1"), (2, "ACME", "s2b"), (3, "ACME", None), (4, "BOLT", "s4")]


def test_one_product_written_by_both_engines_reads_the_same_in_every_reader_at_pinned_versions(
    spark, project: Path, settings: Settings
):
    """v0 by deltalake (polars), v1 by Spark: Spark reads v0, deltalake, polars and DuckDB read v1."""
    contract = _contract(project)
    uri = settings.table_uri("shop.deliveries")
    publish(_polars(GOOD), contract=contract, settings=settings, run_id=RUN, step="by-deltalake")
    newer = [*GOOD, (4, "BOLT", 7, date(2024, 3, 3), "s4")]
    publish(spark.createDataFrame(newer, SCHEMA), contract=contract, settings=settings, run_id=RUN, step="by-spark")

    def rows(frame: pl.DataFrame) -> list[tuple]:
        return sorted(frame.select("id", "supplier", "days", "shipped", "secret").rows())

    by_spark_v0 = spark.read.format("delta").option("versionAsOf", 0).load(uri).toPandas()
    assert rows(pl.from_pandas(by_spark_v0).with_columns(pl.col("shipped").cast(pl.Date))) == sorted(GOOD)
    by_spark_v1 = spark.read.format("delta").option("versionAsOf", 1).load(uri).count()
    assert by_spark_v1 == 4
    assert rows(pl.read_delta(uri, version=1)) == sorted(newer)
    assert rows(pl.from_arrow(DeltaTable(uri, version=1).to_pyarrow_table())) == sorted(newer)
    with duckdb.connect() as con:
        con.register("v1", DeltaTable(uri, version=1).to_pyarrow_dataset())
        in_duckdb = con.sql("select id, supplier, days, shipped, secret from v1").fetchall()
    assert sorted(in_duckdb) == sorted(newer)
    assert rows(pl.read_delta(uri, version=0)) == sorted(GOOD)
