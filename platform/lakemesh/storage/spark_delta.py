"""Delta Lake writes by Spark itself: one commit, the same exactly-once key and metadata as deltalake's.

Spark writes the product natively (no data passes through the driver). The
commit carries Delta's application transaction (`txnAppId`/`txnVersion`) of
the producing step, so Spark itself skips a retried step's second write, and
the platform's fields as JSON in the commit's `userMetadata` (Spark has no
other place for them; `PublishCommit.read` reads both). A merge (SQL), which takes no
writer options, gets the same through the session's `spark.databricks.delta.write.txn*`
and `commitInfo.userMetadata` settings for the one statement.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from lakemesh.compute.views import temporary_view
from lakemesh.errors import CommitConflict, first_line
from lakemesh.storage.commit import CommitRequest, Committed, PublishCommit
from lakemesh.storage.delta import MAX_COMMIT_ATTEMPTS, TABLE_PROPERTIES, after_conflict, committed_version

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["read_spark_table", "write_spark_quarantine", "write_spark_table"]

_SESSION_SETTINGS = threading.Lock()


def read_spark_table(spark: SparkSession, uri: str, *, version: int) -> DataFrame:
    """One pinned Delta version of a product as a Spark DataFrame (`versionAsOf`)."""
    return spark.read.format("delta").option("versionAsOf", version).load(uri)


def _table(uri: str, storage_options: Mapping[str, str] | None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=dict(storage_options or {}))
    except TableNotFoundError:
        return None


@contextmanager
def _session_settings(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Set session conf for one statement, then put back what was there (one statement at a time)."""
    with _SESSION_SETTINGS:
        before = {key: spark.conf.get(key, None) for key in settings}
        for key, value in settings.items():
            spark.conf.set(key, value)
        try:
            yield
        finally:
            for key, value in before.items():
                spark.conf.unset(key) if value is None else spark.conf.set(key, value)


def _is_conflict(error: Exception) -> bool:
    text = f"{type(error).__name__} {error}"
    # DELTA_PROTOCOL_CHANGED: two first writes of a table met in its empty folder
    marks = ("Concurrent", "DELTA_CONCURRENT", "DELTA_METADATA_CHANGED", "DELTA_PROTOCOL_CHANGED", "already exists")
    return any(mark in text for mark in marks)


def _quoted(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def _merge(data: DataFrame, uri: str, *, primary_key: Sequence[str], update: bool, settings: Mapping[str, str]) -> None:
    """A Delta MERGE on the key: it reads the table, so a concurrent commit to it makes this one fail.

    It is SQL over a temporary view, not `delta.tables.DeltaTable`, so that a
    Spark Connect server needs only Delta's SQL extensions, not its Connect plugin.
    """
    condition = " AND ".join(f"target.{_quoted(key)} <=> source.{_quoted(key)}" for key in primary_key)
    matched = "WHEN MATCHED THEN UPDATE SET * " if update else ""
    with temporary_view(data, prefix="lakemesh_merge") as view, _session_settings(data.sparkSession, settings):
        data.sparkSession.sql(
            f"MERGE INTO delta.{_quoted(uri)} AS target USING {view} AS source ON {condition} "
            f"{matched}WHEN NOT MATCHED THEN INSERT *"
        )


def write_spark_table(data: DataFrame, uri: str, request: CommitRequest) -> Committed:
    """Commit `data` once for the request's step with Spark: the Spark twin of `storage.delta.write_table`.

    A new table is created only if none exists, and an append under a primary
    key is an insert-only MERGE on it, so Delta refuses a commit that meets a
    concurrent one rather than publish keys the gate never compared. Then, as on
    deltalake, the write goes round again: the step's own earlier commit is
    found, the `recheck` judges the batch against what the other writer left,
    and only after its last attempt is it a `CommitConflict` naming Delta's
    (Java) reason.
    """
    step, checked_at = request.step, request.checked_at
    for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
        table = _table(uri, request.storage_options)
        if table is not None and (version := committed_version(table, step)) is not None:
            return Committed(version=version, duplicate=True)
        checked_at = request.rejudge(table, checked_at=checked_at)  # commits landed since: judged again
        try:
            _write_once(data, uri, request, table=table)
        except Exception as error:
            if not _is_conflict(error):
                raise
            now = _table(uri, request.storage_options)
            if now is not None and (version := committed_version(now, step)) is not None:
                return Committed(version=version, duplicate=True)  # the same step, retried at the same time, won
            after_conflict(uri, request, attempt=attempt, reason=_java_cause(error))
            continue
        written = _table(uri, request.storage_options)
        version = committed_version(written, step) if written is not None else None
        if version is None:
            raise CommitConflict(f"{uri}: Spark reported success but the log has no commit of {step.app_id}")
        return Committed(version=version, duplicate=False)
    raise AssertionError("unreachable")


def _write_once(data: DataFrame, uri: str, request: CommitRequest, *, table: DeltaTable | None) -> None:
    """One attempt at the step's commit: a keyed MERGE into an existing table, else a write."""
    step, mode, replace_schema = request.step, request.mode, request.replace_schema
    user_metadata = json.dumps(request.metadata(), sort_keys=True)
    keyed = bool(request.primary_key) and mode in ("merge", "append") and request.partition is None
    if keyed and table is not None and not replace_schema:
        _merge(
            data,
            uri,
            primary_key=request.primary_key,
            update=mode == "merge",
            settings={
                "spark.databricks.delta.write.txnAppId": step.app_id,
                "spark.databricks.delta.write.txnVersion": str(step.sequence),
                "spark.databricks.delta.commitInfo.userMetadata": user_metadata,
                "spark.databricks.delta.schema.autoMerge.enabled": "true",  # new columns evolve, as on deltalake
            },
        )
        return
    if table is None:  # never over a table a concurrent writer just created ("error": Spark Connect's spelling)
        save_mode = "error"
    elif mode == "append" and not replace_schema and request.partition is None:
        save_mode = "append"
    else:
        save_mode = "overwrite"
    writer = (
        data.write.format("delta")
        .mode(save_mode)
        .option("txnAppId", step.app_id)
        .option("txnVersion", step.sequence)
        .option("userMetadata", user_metadata)
        .option("overwriteSchema" if replace_schema else "mergeSchema", "true")
    )
    if table is None:
        writer = writer.options(**TABLE_PROPERTIES)  # a new table keeps its whole log, as deltalake's do
    elif request.partition is not None:
        writer = writer.option("replaceWhere", request.partition.predicate(quote="`"))
    writer.save(uri)


def _java_cause(error: Exception) -> str:
    """Delta's own reason, in one line: a Py4J error's message is only "An error occurred while calling o315.save"."""
    java = getattr(error, "java_exception", None)
    return first_line(str(java.toString()) if java is not None else error)[:300]


def write_spark_quarantine(rows: DataFrame, uri: str, *, run_id: str, product: str, failed_checks: str) -> None:
    """Append refused rows to the product's quarantine with Spark: the same shape as `storage.quarantine`'s."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, MapType, StructType

    nested = (ArrayType, MapType, StructType)
    stamped = rows.select(
        *[
            (F.to_json(F.col(f.name)) if isinstance(f.dataType, nested) else F.col(f.name).cast("string")).alias(f.name)
            for f in rows.schema.fields
        ],
        F.lit(product).alias("_lakemesh_product"),
        F.lit(run_id).alias("_lakemesh_run_id"),
        F.lit(failed_checks).alias("_lakemesh_failed_checks"),
        F.current_timestamp().alias("_lakemesh_quarantined_at"),
    )
    (
        stamped.write.format("delta")
        .mode("append")
        .option("mergeSchema", "true")
        .option("userMetadata", json.dumps(PublishCommit(run_id=run_id).metadata()))
        .save(uri)
    )
