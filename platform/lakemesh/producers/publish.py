"""The one path every product takes into the lakehouse: validate, gate schema changes, commit once, record lineage.

Whatever produced the data (a Python asset, a dbt model, Spark), it is
published here and nowhere else. The gate (`producers.gate`) runs before
anything is written. An accepted batch becomes one atomic Delta commit,
exactly once per producing step, recording its run, contract, code version and
inputs. Lineage never decides the outcome: COMPLETE is sent after the commit
from the commit's own facts, and an event the transport cannot take waits in
the outbox.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deltalake import DeltaTable

from lakemesh.contracts import Contract
from lakemesh.errors import PartitionMismatch, ProductNotFound
from lakemesh.lineage import ColumnInput, InputRef, LineageEmitter, PublishLineage, publish_run_id
from lakemesh.producers.batches import Batch, PolarsBatch, as_batch
from lakemesh.producers.gate import Gate, schema_gate
from lakemesh.quality import ContractViolation, ValidationReport
from lakemesh.settings import Settings
from lakemesh.storage.commit import (
    CommitRequest,
    Committed,
    PartitionWindow,
    PublishCommit,
    StepTransaction,
    rows_written,
)
from lakemesh.storage.delta import committed_version, open_table

__all__ = ["PublishResult", "publish"]


@dataclass(frozen=True, kw_only=True)
class PublishResult:
    """What a publish produced, for Dagster metadata and for the caller."""

    product: str
    uri: str
    version: int
    duplicate: bool
    """True when an earlier attempt of the same step had committed `version` already: nothing was written."""
    rows: int
    contract_id: str
    contract_version: str
    inputs: Mapping[str, int]
    report: ValidationReport | None
    """The gate's verdict; None for a duplicate, which is not judged again."""
    lineage_run_id: str
    validate_seconds: float
    write_seconds: float


def _existing_table(uri: str, settings: Settings) -> DeltaTable | None:
    try:
        return open_table(uri, storage_options=settings.storage_options)
    except ProductNotFound:
        return None


def publish(
    data: Any,
    *,
    contract: Contract,
    settings: Settings,
    run_id: str,
    step: str = "publish",
    code_version: str | None = None,
    inputs: Mapping[str, int] | None = None,
    extra_inputs: Sequence[InputRef] = (),
    column_lineage: Mapping[str, Sequence[ColumnInput]] | None = None,
    dataset_lineage: Sequence[ColumnInput] = (),
    parent_job: str | None = None,
    partition: str | tuple[str, str] | None = None,
) -> PublishResult:
    """Validate `data` against `contract` and, only if it passes, commit it as the product's next version.

    `run_id` and `step` identify the producing step: publishing again for the
    same pair returns the version already committed. `inputs` maps each
    upstream product read to the Delta version read; `extra_inputs` are other
    datasets (landing files) to show in lineage; `column_lineage` maps output
    columns to the input columns they are computed from, and `dataset_lineage`
    lists the INDIRECT ones that shape every row (join keys, filters, grouping,
    sort and window columns). With `partition` (a key of the contract's time
    partitions, e.g. `1995-06-30`, or a range of them, `("1995-06-01",
    "1995-06-30")`), the batch is those partitions: every row must fall in
    them, and one commit replaces them and nothing else, once per step and
    partition. Raises `ContractViolation` (nothing written, rows
    quarantined), `BreakingChange`, `PartitionMismatch`, `CommitConflict`.
    """
    inputs = dict(inputs or {})
    unknown = sorted(set(column_lineage or {}) - {c.name for c in contract.columns})
    if unknown:
        raise ValueError(f"column lineage for {contract.name} names columns its contract does not have: {unknown}")
    try:
        uuid.UUID(run_id)
    except ValueError:
        raise ValueError(f"run_id must be a UUID (the Dagster run id), got {run_id!r}") from None
    window = _partition_window(contract, partition) if partition is not None else None
    transaction = StepTransaction(
        app_id=f"lakemesh/{contract.name}/{run_id}/{step}" + (f"/{window.key}" if window is not None else "")
    )
    lineage = PublishLineage(
        LineageEmitter.for_settings(settings),
        settings=settings,
        contract=contract,
        inputs=[InputRef.of_product(p, settings=settings, version=v) for p, v in inputs.items()] + list(extra_inputs),
        column_lineage=column_lineage,
        dataset_lineage=dataset_lineage,
        parent_run_id=run_id,
        parent_job=parent_job,
        run_id=publish_run_id(transaction.app_id),
        partition=window.key if window is not None else None,
    )
    lineage.start()
    uri = settings.table_uri(contract.name)
    started = time.perf_counter()
    report = None
    batch: Batch | None = None
    try:
        batch = as_batch(data, contract)
        table = _existing_table(uri, settings)
        if table is not None and (done := committed_version(table, transaction)) is not None:
            committed = Committed(version=done, duplicate=True)  # a retried step: its commit stands
        else:
            gate = Gate(
                batch=batch,
                contract=contract,
                settings=settings,
                lineage=lineage,
                run_id=run_id,
                replace_schema=schema_gate(table, contract, settings),
                partition=window,
            )
            if window is not None and gate.replace_schema and window.first > contract.partitioning.start:
                first = contract.partitioning.key_of(contract.partitioning.start)
                raise ValueError(
                    f"{contract.name}: contract v{contract.version} is a new major version, which replaces the whole "
                    f"table: publish it whole first, or a range from its first partition ({first}), not partition "
                    f"{window.key}; nothing was written"
                )
            report = gate.judge(table)
            if window is not None:
                _check_window(batch, window, product=contract.name)
            validated = time.perf_counter()
            record = PublishCommit(
                run_id=run_id,
                contract_id=contract.id,
                contract_version=contract.version,
                contract=contract.to_json(),
                code_version=code_version or "",
                inputs=inputs,
                partition=window.key if window is not None else None,
            )
            request = CommitRequest(
                mode=contract.write_mode,
                primary_key=contract.primary_key,
                record=record,
                step=transaction,
                replace_schema=gate.replace_schema,
                partition=None if gate.replace_schema else window,  # a new major version: the whole table
                recheck=gate.recheck,
                checked_at=table.version() if table is not None else None,
                storage_options=settings.storage_options,
            )
            committed = batch.commit(uri, request, columns=[c.name for c in contract.columns])
    except ContractViolation:
        raise
    except Exception as error:
        lineage.fail(f"{type(error).__name__}: {error}")
        raise
    finally:
        if batch is not None:
            batch.release()
    written = time.perf_counter()
    rows = report.rows if report is not None else _duplicate_rows(batch, uri, committed.version, settings)
    lineage.complete(version=committed.version, rows=rows, assertions=report.outcome() if report else {})
    return PublishResult(
        product=contract.name,
        uri=uri,
        version=committed.version,
        duplicate=committed.duplicate,
        rows=rows,
        contract_id=contract.id,
        contract_version=contract.version,
        inputs=inputs,
        report=report,
        lineage_run_id=lineage.run_id,
        validate_seconds=(validated - started) if report else 0.0,
        write_seconds=(written - validated) if report else 0.0,
    )


def _partition_window(contract: Contract, partition: str | tuple[str, str]) -> PartitionWindow:
    """The rows partition `partition` (or the range of them) of the product holds; a product without partitions,
    a key not of its grain or a range that runs backwards is refused."""
    first_key, last_key = (partition, partition) if isinstance(partition, str) else partition
    partitioning = contract.partitioning
    if partitioning is None:
        key = "...".join(dict.fromkeys((first_key, last_key)))
        raise ValueError(f"{contract.name} is not partitioned (its contract marks no column partitioned): "
                         f"publish it whole, without partition {key!r}")  # fmt: skip
    try:
        window = PartitionWindow.of(partitioning, (first_key, last_key))
    except ValueError as error:
        raise ValueError(f"{contract.name}: {error}; nothing was written") from None
    if window.first < partitioning.start:
        raise ValueError(
            f"{contract.name}: partition {first_key} is before its first partition, "
            f"{partitioning.key_of(partitioning.start)}"
        )
    return window


def _check_window(batch: Batch, window: PartitionWindow, *, product: str) -> None:
    """Every row of a partition's batch belongs to it: another's would land in the wrong partition."""
    count, examples = batch.outside(window)
    if count:
        raise PartitionMismatch(
            f"{product}: {count} row(s) of partition {window.key} have {window.column} outside it "
            f"({window.first} <= {window.column} < {window.end}), e.g. {', '.join(examples)}: they would land in "
            "another partition; nothing was written"
        )


def _duplicate_rows(batch: Batch, uri: str, version: int, settings: Settings) -> int:
    """Rows of a retried step's commit: the batch's own count where it is at hand, else the commit's metrics."""
    if isinstance(batch, PolarsBatch):
        return batch.frame.height
    table = open_table(uri, storage_options=settings.storage_options)
    info = next((c for c in table.history() if c["version"] == version), {})
    return rows_written(info) or 0
