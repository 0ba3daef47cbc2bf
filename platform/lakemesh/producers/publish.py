"""The one path every product takes into the lakehouse: validate, gate schema changes, commit once, record lineage.

Whatever produced the data (a Python asset, a dbt model, Spark), it is
published here and nowhere else. The gate runs before anything is written: a
refused batch leaves the current Delta version untouched and its failing rows
in the domain's quarantine; a contract change that breaks the product's readers
is refused unless its major version went up. An accepted batch becomes one
atomic Delta commit, exactly once per producing step, recording its run,
contract, code version and inputs. Lineage never decides the outcome: COMPLETE
is sent after the commit from the commit's own facts, and an event the
transport cannot take waits in the outbox.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deltalake import DeltaTable

from lakemesh.contracts import Contract
from lakemesh.contracts.compatibility import ContractChange, breaking_changes
from lakemesh.errors import BreakingChange, CommitConflict, ContractViolation, ProductNotFound, in_one_line
from lakemesh.lineage import ColumnInput, InputRef, LineageEmitter, PublishLineage, publish_run_id
from lakemesh.producers.batches import Batch, PolarsBatch, as_batch
from lakemesh.quality import ValidationReport
from lakemesh.settings import Settings
from lakemesh.storage.delta import (
    Committed,
    StepTransaction,
    commit_metadata,
    committed_version,
    last_published_contract,
    open_table,
    rows_written,
)

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


def _readers(contract: Contract, changes: Sequence[ContractChange], settings: Settings) -> list[str]:
    """Every downstream product, domain and owner reading a changed column, as the catalog knows them."""
    from lakemesh.catalog import Catalog, NotFound, impact

    try:
        catalog = Catalog(settings.catalog_url)
        found = {}
        for column in sorted({c.column for c in changes}, key=lambda c: c or ""):
            try:
                affected = impact(catalog, contract.name, column=column, namespace=settings.namespace)
            except NotFound:  # a column the catalog has not seen: then every reader of the product counts
                affected = impact(catalog, contract.name, namespace=settings.namespace)
            for entry in affected:
                read = f"{column} (indirectly)" if entry.indirect else column
                found.setdefault(entry.name, (entry.domain, entry.owner, set()))[2].add(read or "*")
    except NotFound:
        return []
    except Exception as error:  # the catalog is down: the change is refused all the same
        return [f"(readers unknown: the catalog could not be read: {str(error).splitlines()[0]})"]
    return [
        f"{name} (domain {domain}, owner {owner or 'unknown'}; reads {', '.join(sorted(columns))})"
        for name, (domain, owner, columns) in sorted(found.items())
    ]


def _schema_gate(table: DeltaTable | None, contract: Contract, settings: Settings) -> bool:
    """Refuse a breaking contract change without a new major version; True when the schema is to be replaced."""
    previous = last_published_contract(table) if table is not None else None
    if previous is None or previous == contract.document.model_dump(mode="json", exclude_none=True, by_alias=True):
        return False
    changes = breaking_changes(previous, contract)
    if not changes:
        return False
    old_major = int(str(previous.get("version", "0")).split(".")[0])
    if contract.major_version > old_major:
        return True
    readers = _readers(contract, changes, settings)
    lines = [
        f"{contract.name}: contract v{contract.version} ({contract.path}) breaks the published "
        f"v{previous.get('version')} without a new major version; nothing was written. Breaking changes:",
        *(f"  - {change.message} ({change.path})" for change in changes),
        "Readers affected: " + ("; ".join(readers) if readers else "none known to the catalog"),
        f"Raise the major version (to {old_major + 1}.0.0) once the readers are ready, or make the change additive.",
    ]
    raise BreakingChange("\n".join(lines))


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
) -> PublishResult:
    """Validate `data` against `contract` and, only if it passes, commit it as the product's next version.

    `run_id` and `step` identify the producing step: publishing again for the
    same pair returns the version already committed. `inputs` maps each
    upstream product read to the Delta version read; `extra_inputs` are other
    datasets (landing files) to show in lineage; `column_lineage` maps output
    columns to the input columns they are computed from, and `dataset_lineage`
    lists the INDIRECT ones that shape every row (join keys, filters, grouping,
    sort and window columns). Raises
    `ContractViolation` (nothing written, rows quarantined), `BreakingChange`,
    `CommitConflict`.
    """
    inputs = dict(inputs or {})
    unknown = sorted(set(column_lineage or {}) - {c.name for c in contract.columns})
    if unknown:
        raise ValueError(f"column lineage for {contract.name} names columns its contract does not have: {unknown}")
    try:
        uuid.UUID(run_id)
    except ValueError:
        raise ValueError(f"run_id must be a UUID (the Dagster run id), got {run_id!r}") from None
    transaction = StepTransaction(app_id=f"lakemesh/{contract.name}/{run_id}/{step}")
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
            replace_schema = _schema_gate(table, contract, settings)
            keyed_append = (
                contract.write_mode == "append" and bool(contract.primary_key) and not replace_schema
            )  # a new major version starts the table over

            def judge(against: DeltaTable | None) -> ValidationReport:
                verdict = batch.judge(contract, against=against, keyed_append=keyed_append)
                if not verdict.passed:
                    raise _refuse(batch, verdict, table=against, lineage=lineage, settings=settings, run_id=run_id)
                return verdict

            def judge_again(against: DeltaTable) -> None:
                """Before committing on a version the gate did not see: the same schema decision, the same keys."""
                if _schema_gate(against, contract, settings) != replace_schema:
                    raise CommitConflict(
                        f"{uri}: a concurrent writer published under another contract version; nothing was written"
                    )
                if keyed_append:
                    judge(against)

            report = judge(table)
            validated = time.perf_counter()
            committed = batch.commit(
                uri,
                contract=contract,
                metadata=commit_metadata(
                    run_id=run_id,
                    contract_id=contract.id,
                    contract_version=contract.version,
                    contract_json=contract.to_json(),
                    code_version=code_version,
                    inputs=inputs,
                ),
                step=transaction,
                replace_schema=replace_schema,
                recheck=judge_again,
                checked_at=table.version() if table is not None else None,
                settings=settings,
            )
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


def _duplicate_rows(batch: Batch, uri: str, version: int, settings: Settings) -> int:
    """Rows of a retried step's commit: the batch's own count where it is at hand, else the commit's metrics."""
    if isinstance(batch, PolarsBatch):
        return batch.frame.height
    table = open_table(uri, storage_options=settings.storage_options)
    info = next((c for c in table.history() if c["version"] == version), {})
    return rows_written(info) or 0


def _refuse(
    batch: Batch,
    report: ValidationReport,
    *,
    table: DeltaTable | None,
    lineage: PublishLineage,
    settings: Settings,
    run_id: str,
) -> ContractViolation:
    """Quarantine the failing rows and say why; a quarantine that cannot be written never hides the refusal."""
    contract = report.contract
    quarantine = settings.quarantine_uri(contract.name)
    try:
        batch.quarantine(report, quarantine, run_id=run_id, settings=settings)
        failure = None
    except Exception as error:  # any storage error: report it inside the refusal
        failure = in_one_line(error)
    violation = ContractViolation(
        report,
        kept_version=table.version() if table is not None else None,
        quarantine=quarantine,
        quarantine_error=failure,
    )
    lineage.fail(str(violation), assertions=report.outcome(), quarantined=failure is None)
    return violation
