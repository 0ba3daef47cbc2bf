"""A Spark commit that meets another writer's goes round again, judged against what that writer left."""

import os
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from lakemesh import CommitConflict
from lakemesh.storage.commit import CommitRequest, PublishCommit, StepTransaction
from lakemesh.storage.spark_delta import write_spark_table

pytestmark = pytest.mark.spark

STEP = StepTransaction(app_id="lakemesh/shop.totals/run/step")


def _meanwhile(spark, uri: str, marker: Path, *, every_attempt: bool):
    """A batch whose computation lands another writer's commit on `uri` while Spark writes it (a real concurrent
    deltalake commit, from Spark's own Python worker): once, or on every attempt."""
    from pyspark.sql import functions as F

    def concurrent_commit(value: int) -> int:
        if value == 0:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL)) if not every_attempt else None
            except FileExistsError:
                return value
            table = DeltaTable(uri)
            write_deltalake(table, table.to_pyarrow_table().slice(0, 1), mode="append")
        return value

    commit_meanwhile = F.udf(concurrent_commit, "bigint")
    return spark.range(0, 4, numPartitions=1).select("id", commit_meanwhile("id").alias("v"))


def _table(tmp_path: Path) -> str:
    uri = str(tmp_path / "totals")
    write_deltalake(uri, pa.table({"id": pa.array([10], pa.int64()), "v": pa.array([10], pa.int64())}))
    return uri


def test_an_overwrite_that_meets_a_concurrent_commit_is_judged_again_and_commits_once(spark, tmp_path: Path):
    uri = _table(tmp_path)
    judged = []
    request = CommitRequest(
        mode="overwrite",
        primary_key=(),
        record=PublishCommit(run_id="run"),
        step=STEP,
        recheck=lambda table: judged.append(table.version()),
        checked_at=0,
    )

    committed = write_spark_table(_meanwhile(spark, uri, tmp_path / "once", every_attempt=False), uri, request)

    assert (committed.version, committed.duplicate) == (2, False)  # after the other writer's version 1
    assert judged == [1]  # judged again against what the other writer left
    table = DeltaTable(uri)
    assert sorted(table.to_pyarrow_table().column("id").to_pylist()) == [0, 1, 2, 3]
    assert [c["version"] for c in table.history() if STEP.app_id in str(c)] == [2]


def test_an_overwrite_that_always_meets_a_concurrent_commit_says_why_in_one_line(spark, tmp_path: Path):
    uri = _table(tmp_path)
    request = CommitRequest(mode="overwrite", primary_key=(), record=PublishCommit(run_id="run"), step=STEP)

    with pytest.raises(CommitConflict) as refused:
        write_spark_table(_meanwhile(spark, uri, tmp_path / "never", every_attempt=True), uri, request)

    message = str(refused.value)
    assert "a concurrent writer committed first (" in message and "after 6 attempt(s)" in message
    assert "Exception" in message and "An error occurred while calling" not in message  # Delta's reason, not Py4J's
    assert "\n" not in message
    assert all(STEP.app_id not in str(c) for c in DeltaTable(uri).history())  # nothing of this step was written


def test_two_first_writes_meeting_in_an_empty_folder_are_a_conflict_to_go_round_again():
    """Delta's words when two runs first publish a Spark product at once (seen in the two-runs test): a conflict,
    so the loser is judged again against the winner's version, not failed."""
    from lakemesh.storage.spark_delta import _is_conflict

    said = RuntimeError(
        "An error occurred while calling o316.save.\n: io.delta.exceptions.ProtocolChangedException: "
        "[DELTA_PROTOCOL_CHANGED] ProtocolChangedException: The protocol version of the Delta table has been "
        "changed by a concurrent update. This happens when multiple writers are writing to an empty directory."
    )
    assert _is_conflict(said)
    assert not _is_conflict(RuntimeError("An error occurred while calling o12.save.\n: java.io.IOException: disk full"))
