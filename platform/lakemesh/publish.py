"""The one path every product takes into the lakehouse: validate, write, record lineage.

Whatever produced the data (a Python asset, a dbt model, Spark), it is published
here and nowhere else: the gate runs before anything is written, a refused batch
leaves the current Delta version untouched and its failing rows in quarantine,
and an accepted one becomes one atomic Delta commit that records its run,
contract, code version and inputs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from lakemesh.contracts import Contract
from lakemesh.lineage import ColumnInput, InputRef, PublishLineage, lineage_client
from lakemesh.settings import Settings
from lakemesh.tables import commit_metadata, current_version, write_quarantine, write_table
from lakemesh.validation import ValidationReport, validate

__all__ = ["ContractViolation", "PublishResult", "publish", "to_polars"]


class ContractViolation(Exception):
    """A batch the contract refused; nothing was published."""

    def __init__(self, report: ValidationReport, *, kept_version: int | None, quarantine: str) -> None:
        self.report = report
        self.kept_version = kept_version
        self.quarantine = quarantine
        contract = report.contract
        kept = f"version {kept_version} stays current" if kept_version is not None else "nothing was published"
        lines = [
            f"{contract.name} refused by its contract {contract.id} v{contract.version}: "
            f"{len(report.failures)} check(s) failed on a batch of {report.rows} rows; {kept}; "
            f"failing rows quarantined in {quarantine}"
        ]
        lines += [f"  - {failure.describe()}" for failure in report.failures]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, kw_only=True)
class PublishResult:
    """What a publish produced, for Dagster metadata and for the caller."""

    product: str
    uri: str
    version: int
    rows: int
    contract_id: str
    contract_version: str
    inputs: Mapping[str, int]
    report: ValidationReport
    lineage_run_id: str
    validate_seconds: float
    write_seconds: float


def to_polars(data: Any) -> pl.DataFrame:
    """Accept what producers return: polars (eager or lazy), Arrow, or pandas."""
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pa.Table | pa.RecordBatch):
        return pl.from_arrow(data)
    if type(data).__module__.startswith("pandas"):
        return pl.from_pandas(data)
    raise TypeError(f"a product is a polars, Arrow or pandas DataFrame; the producer returned {type(data).__name__}")


def publish(
    data: Any,
    *,
    contract: Contract,
    settings: Settings,
    run_id: str,
    code_version: str | None = None,
    inputs: Mapping[str, int] | None = None,
    extra_inputs: Sequence[InputRef] = (),
    column_lineage: Mapping[str, Sequence[ColumnInput]] | None = None,
    parent_job: str | None = None,
) -> PublishResult:
    """Validate `data` against `contract` and, only if it passes, commit it as the product's next version.

    `inputs` maps each upstream product read to the Delta version read; `extra_inputs`
    are other datasets (landing files) to show in lineage; `column_lineage` maps
    output columns to the input columns they are computed from. Raises `ContractViolation`.
    """
    inputs = dict(inputs or {})
    unknown = sorted(set(column_lineage or {}) - {c.name for c in contract.columns})
    if unknown:
        raise ValueError(f"column lineage for {contract.name} names columns its contract does not have: {unknown}")
    lineage = PublishLineage(
        lineage_client(settings),
        settings=settings,
        contract=contract,
        inputs=[InputRef(namespace=settings.namespace, name=p, version=str(v)) for p, v in inputs.items()]
        + list(extra_inputs),
        column_lineage=column_lineage,
        parent_run_id=run_id,
        parent_job=parent_job,
    )
    lineage.start()
    uri = settings.table_uri(contract.name)
    try:
        frame = to_polars(data)
        started = time.perf_counter()
        report = validate(frame, contract)
        validated = time.perf_counter()
        outcome = {name: report.failed(name) is None for name in report.checks}
        if not report.passed:
            rows = frame if report.failing_rows is None else frame[report.failing_rows]
            quarantine = settings.quarantine_uri(contract.name)
            write_quarantine(
                quarantine,
                rows,
                run_id=run_id,
                product=contract.name,
                failed_checks=report.summary(),
            )
            violation = ContractViolation(report, kept_version=current_version(uri), quarantine=quarantine)
            lineage.fail(str(violation), assertions=outcome)
            raise violation
        columns = [c.name for c in contract.columns]
        # write what the producer handed over; polars frames are converted once, Arrow tables not at all
        table = data.select(columns) if isinstance(data, pa.Table) else frame.select(columns).to_arrow()
        metadata = commit_metadata(
            run_id=run_id,
            contract_id=contract.id,
            contract_version=contract.version,
            code_version=code_version,
            inputs=inputs,
        )
        version = write_table(
            uri,
            table,
            mode=contract.write_mode,
            primary_key=contract.primary_key,
            metadata=metadata,
        )
        written = time.perf_counter()
    except ContractViolation:
        raise
    except Exception as exc:
        lineage.fail(f"{type(exc).__name__}: {exc}")
        raise
    lineage.complete(version=version, rows=frame.height, assertions=outcome)
    return PublishResult(
        product=contract.name,
        uri=uri,
        version=version,
        rows=frame.height,
        contract_id=contract.id,
        contract_version=contract.version,
        inputs=inputs,
        report=report,
        lineage_run_id=lineage.run_id,
        validate_seconds=validated - started,
        write_seconds=written - validated,
    )
