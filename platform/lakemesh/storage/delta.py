"""Delta Lake I/O for products: versioned reads, exactly-once commits, errors that name the table.

Every commit of a product carries a Delta application transaction (`txn`)
keyed by the producing step: a retried or re-delivered publish of the same step
finds it and returns the version it already committed instead of writing again.
A commit that loses to a concurrent writer is retried with backoff (append,
merge) or reported (overwrite). Every deltalake call takes the lakehouse's
`storage_options`, so an object-store lakehouse works with explicit credentials.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import date

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from lakemesh.errors import CommitConflict, ProductNotFound, TableUnreadable, VersionNotFound, first_line
from lakemesh.storage.commit import CommitRequest, Committed, PartitionWindow, PublishCommit, StepTransaction

__all__ = [
    "MAX_COMMIT_ATTEMPTS",
    "TABLE_PROPERTIES",
    "after_conflict",
    "committed_version",
    "current_version",
    "last_published_contract",
    "newest_day",
    "open_table",
    "read_table",
    "rows_outside",
    "write_table",
]

TABLE_PROPERTIES = {"delta.enableExpiredLogCleanup": "false"}
"""The commit log is kept whole: it holds each version's contract (for the schema gate) and the steps' commits."""
MAX_COMMIT_ATTEMPTS = 6
_PAST_END = "not the same as the specified end version"


def _loads(uri: str, version: int, storage_options: Mapping[str, str] | None) -> bool | None:
    """Whether the log reads up to `version`: True, False (damaged), None (no such version)."""
    try:
        DeltaTable(uri, version=version, storage_options=dict(storage_options or {}))
        return True
    except DeltaError as error:
        return None if _PAST_END in str(error) else False


def _damaged_version(uri: str, storage_options: Mapping[str, str] | None) -> int:
    """The first version that does not load (a damaged or missing log entry); those that load form a prefix."""
    good, probe = -1, 0
    while _loads(uri, probe, storage_options) is True:
        good, probe = probe, probe * 2 + 1
    while probe - good > 1:
        middle = (good + probe) // 2
        good, probe = (middle, probe) if _loads(uri, middle, storage_options) is True else (good, middle)
    return probe


def open_table(uri: str, *, version: int | None = None, storage_options: Mapping[str, str] | None = None) -> DeltaTable:
    """The Delta table at `uri` (at `version`), or an error that names the table and the version."""
    options = dict(storage_options or {})
    try:
        return DeltaTable(uri, version=version, storage_options=options)
    except TableNotFoundError:
        raise ProductNotFound(f"no Delta table at {uri}: the product has never been published") from None
    except DeltaError as error:
        if version is not None and _PAST_END in str(error):
            latest = DeltaTable(uri, storage_options=options).version()
            raise VersionNotFound(f"{uri} has no version {version}; the latest is {latest}") from None
        damaged = _damaged_version(uri, options)
        raise TableUnreadable(
            f"the Delta log of {uri} is damaged at version {damaged} (_delta_log/{damaged:020d}.json is damaged "
            f"or missing): {first_line(error)[:200]}"
        ) from None


def current_version(uri: str, *, storage_options: Mapping[str, str] | None = None) -> int | None:
    """The table's latest committed version, or None when nothing was ever published."""
    try:
        return open_table(uri, storage_options=storage_options).version()
    except ProductNotFound:
        return None


def read_table(
    uri: str, *, version: int | None = None, storage_options: Mapping[str, str] | None = None
) -> pl.LazyFrame:
    """A lazy scan of one Delta version (the latest when `version` is None)."""
    return pl.scan_delta(open_table(uri, version=version, storage_options=storage_options))


def rows_outside(table: DeltaTable, window: PartitionWindow) -> int:
    """How many rows of `table` are not in `window`: what a commit replacing that partition keeps.

    Counted from the files' statistics (delta-rs gives each file its columns' ranges and Arrow counts a file that
    lies wholly on one side from its metadata), so a day's commit does not read the history: only a file holding
    days on both sides of the window (a compaction merged them) is read, and only its partition column.
    """
    column = pc.field(window.column)
    inside = (column >= window.first) & (column < window.end)
    return table.to_pyarrow_dataset().count_rows(filter=~inside | column.is_null())  # a null is in no partition


def newest_day(table: DeltaTable, column: str) -> date | None:
    """The latest value of date `column` in the table, from the files' statistics (None for an empty table)."""
    files = pa.table(table.get_add_actions(flatten=True))
    high = f"max.{column}"
    if high in files.column_names:
        return max((day for day in files.column(high).to_pylist() if day is not None), default=None)
    return pl.scan_delta(table).select(pl.col(column).max()).collect().item()  # no statistics: read the column


def last_published_contract(table: DeltaTable) -> dict | None:
    """The ODCS document the product's latest publish was made under (kept in its commit record)."""
    for limit in (10, None):  # usually the latest commit or one before maintenance's; the whole log if need be
        for commit in table.history(limit):
            record = PublishCommit.read(commit)
            if record is not None and record.contract is not None:
                return record.contract_document()
    return None


def committed_version(table: DeltaTable, step: StepTransaction) -> int | None:
    """The version an earlier attempt of this step committed, if its transaction is in the log."""
    done = table.transaction_version(step.app_id)
    if done is None or done < step.sequence:
        return None
    # the log is kept whole (see TABLE_PROPERTIES); a table whose old entries were cleaned up by another writer
    # still knows the step committed: the current version then stands for it
    return next(
        (c["version"] for c in table.history() if (r := PublishCommit.read(c)) is not None and r.app_id == step.app_id),
        table.version(),
    )


def _commit_once(
    table: DeltaTable | None, uri: str, data: pa.Table, request: CommitRequest, *, commit: CommitProperties
) -> int:
    if table is None:  # create, or fail if a concurrent writer created it first (then the caller goes round again)
        write_deltalake(
            uri,
            data,
            mode="error",
            configuration=TABLE_PROPERTIES,
            commit_properties=commit,
            storage_options=dict(request.storage_options),
        )
        return 0
    mode, replace_schema = request.mode, request.replace_schema
    if mode == "merge" and not replace_schema and request.partition is None:
        predicate = " AND ".join(f'target."{key}" = source."{key}"' for key in request.primary_key)
        merger = table.merge(
            data, predicate, source_alias="source", target_alias="target", merge_schema=True, commit_properties=commit
        )
        merger.when_matched_update_all().when_not_matched_insert_all().execute()
    else:
        added = set(data.schema.names) - {field.name for field in table.schema().fields}
        partition = request.partition
        write_deltalake(
            table,
            data,
            mode="append" if mode == "append" and not replace_schema and partition is None else "overwrite",
            predicate=partition.predicate(quote='"') if partition is not None else None,
            schema_mode="overwrite" if replace_schema else "merge" if added else None,  # merge only to evolve
            commit_properties=commit,
        )
    return table.version()  # the table object holds the snapshot its own commit created


def after_conflict(uri: str, request: CommitRequest, *, attempt: int, reason: str) -> None:
    """A commit lost to a concurrent writer: wait (backoff) before going round again, or after the last attempt
    refuse with `CommitConflict`, saying why in one line."""
    if attempt >= MAX_COMMIT_ATTEMPTS:
        raise CommitConflict(
            f"{uri}: a concurrent writer committed first ({reason}); "
            f"this {request.mode} wrote nothing after {attempt} attempt(s)"
        )
    time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))


def write_table(uri: str, data: pa.Table, request: CommitRequest) -> Committed:
    """Commit `data` once for the request's step: one atomic Delta commit carrying its application transaction.

    With a `recheck`, any concurrent commit sends this one round again, judged anew against it.
    """
    options = dict(request.storage_options)
    step, checked_at = request.step, request.checked_at
    commit = CommitProperties(
        custom_metadata=request.metadata(),
        app_transactions=[Transaction(step.app_id, step.sequence, int(time.time() * 1000))],
        # the gate must see every commit it did not judge against: any concurrent commit sends this one round again
        max_commit_retries=0 if request.recheck is not None else None,
    )
    for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
        try:
            table = DeltaTable(uri, storage_options=options)
        except TableNotFoundError:
            table = None
        if table is not None and (version := committed_version(table, step)) is not None:
            return Committed(version=version, duplicate=True)
        checked_at = request.rejudge(table, checked_at=checked_at)  # commits landed since: judged again
        try:
            return Committed(version=_commit_once(table, uri, data, request, commit=commit), duplicate=False)
        except CommitFailedError as error:  # (before DeltaError: it is one) go round again, judged anew
            after_conflict(uri, request, attempt=attempt, reason=first_line(error))
        except DeltaError as error:
            if table is None and "already exists" in str(error):
                continue  # a concurrent writer created the table: go round as a writer to an existing table
            raise
    raise AssertionError("unreachable")
