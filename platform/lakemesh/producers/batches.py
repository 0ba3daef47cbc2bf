"""What the publish path needs of a batch, per engine: judge it, quarantine its refused rows, commit it.

The path itself (the step's transaction, the schema gate, lineage, the
refusal) is one; only these three acts differ between a batch that fits in the
process (polars, Arrow, pandas: judged by pandera's polars backend, written by
deltalake) and a Spark DataFrame (judged and written by Spark, never collected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from lakemesh.contracts import Contract
from lakemesh.quality import ValidationReport, as_polars, validate
from lakemesh.settings import Settings
from lakemesh.storage.commit import CommitRequest, Committed, PartitionWindow
from lakemesh.storage.delta import write_table
from lakemesh.storage.quarantine import write_quarantine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = [
    "Batch",
    "PolarsBatch",
    "SparkBatch",
    "TableSide",
    "as_batch",
    "is_spark_dataframe",
    "polars_rows_in",
    "spark_rows_in",
]


@dataclass(frozen=True, kw_only=True)
class TableSide:
    """What a batch's table-wide guarantees are judged with: the table as it is (None before its first commit)."""

    table: DeltaTable | None
    keyed_append: bool
    """The batch's keys must not be in the table already (outside the partition it `replaced`)."""
    replaced: PartitionWindow | None = None
    """The one time partition the batch replaces, if it is one."""
    kept_rows: int = 0
    """The table's rows the commit keeps beside the batch: a row count counts them too."""


class Batch(Protocol):
    """One producer's output on its way to a product."""

    def judge(self, contract: Contract, *, table: TableSide) -> ValidationReport:
        """The contract's report on the batch, its table-wide guarantees judged with what `table` says of the table."""
        ...

    def quarantine(self, report: ValidationReport, uri: str, *, run_id: str, settings: Settings) -> None: ...

    def commit(self, uri: str, request: CommitRequest, *, columns: Sequence[str]) -> Committed: ...

    def outside(self, window: PartitionWindow) -> tuple[int, list[str]]:
        """Rows whose partition column is not in `window` (or null): how many, and up to three of their values."""
        ...

    def release(self) -> None: ...


@dataclass(kw_only=True)
class PolarsBatch:
    """A batch in this process's memory: polars, Arrow or pandas."""

    data: Any
    frame: pl.DataFrame

    def judge(self, contract: Contract, *, table: TableSide) -> ValidationReport:
        existing, against, replaced = None, table.table, table.replaced
        if table.keyed_append and against is not None:
            existing = pl.scan_delta(against)
            if replaced is not None:
                existing = existing.filter(polars_rows_in(replaced).not_())
            existing = existing.select(contract.primary_key)
        return validate(self.frame, contract, existing_keys=existing, kept_rows=table.kept_rows)

    def quarantine(self, report: ValidationReport, uri: str, *, run_id: str, settings: Settings) -> None:
        rows = self.frame if report.failing_rows is None else self.frame[report.failing_rows]
        write_quarantine(
            uri,
            rows,
            run_id=run_id,
            product=report.contract.name,
            failed_checks=report.summary(),
            storage_options=settings.storage_options,
        )

    def commit(self, uri: str, request: CommitRequest, *, columns: Sequence[str]) -> Committed:
        return write_table(uri, self._arrow(columns), request)

    def outside(self, window: PartitionWindow) -> tuple[int, list[str]]:
        misplaced = self.frame.filter(~polars_rows_in(window).fill_null(False)).get_column(window.column)
        return misplaced.len(), [str(v) for v in misplaced.unique(maintain_order=True).head(3).to_list()]

    def _arrow(self, columns: Sequence[str]) -> pa.Table:
        """The producer's own Arrow table when normalising left it as it was (no copy), else the frame's."""
        data = self.data
        if isinstance(data, pa.Table) and self.frame.schema == pl.from_arrow(data.slice(0, 0)).schema:
            return data.select(columns)
        return self.frame.select(columns).to_arrow()

    def release(self) -> None:
        """Nothing to release: the frame is the caller's."""


@dataclass(kw_only=True)
class SparkBatch:
    """A Spark DataFrame: judged by Spark aggregates and written by Spark, cached across the two."""

    frame: DataFrame
    _refused: DataFrame | None = field(default=None, repr=False)

    def judge(self, contract: Contract, *, table: TableSide) -> ValidationReport:

        from lakemesh.quality.spark_backend import validate_spark
        from lakemesh.storage.spark_delta import read_spark_table

        existing = None
        against, replaced = table.table, table.replaced
        if table.keyed_append and against is not None:
            published = read_spark_table(self.frame.sparkSession, against.table_uri, version=against.version())
            if replaced is not None:
                published = published.filter(~spark_rows_in(replaced))
            existing = published.select(*contract.primary_key)
        verdict = validate_spark(self.frame, contract, existing_keys=existing, kept_rows=table.kept_rows)
        self._refused = verdict.refused
        return verdict.report

    def quarantine(self, report: ValidationReport, uri: str, *, run_id: str, settings: Settings) -> None:
        from lakemesh.storage.spark_delta import write_spark_quarantine

        rows = self._refused if self._refused is not None else self.frame
        write_spark_quarantine(rows, uri, run_id=run_id, product=report.contract.name, failed_checks=report.summary())

    def commit(self, uri: str, request: CommitRequest, *, columns: Sequence[str]) -> Committed:
        from lakemesh.storage.spark_delta import write_spark_table

        return write_spark_table(self.frame.select(*columns), uri, request)

    def outside(self, window: PartitionWindow) -> tuple[int, list[str]]:
        from pyspark.sql import functions as F

        misplaced = self.frame.filter(F.col(window.column).isNull() | ~spark_rows_in(window)).select(window.column)
        return misplaced.count(), [str(row[0]) for row in misplaced.distinct().limit(3).collect()]

    def release(self) -> None:
        self.frame.unpersist()


def polars_rows_in(window: PartitionWindow) -> pl.Expr:
    """Whether a row is in the partition, as polars says it (null for a null date)."""
    return pl.col(window.column).is_between(window.first, window.end, closed="left")


def spark_rows_in(window: PartitionWindow) -> Any:
    """Whether a row is in the partition, as Spark says it (null for a null date)."""
    from pyspark.sql import functions as F

    column = F.col(window.column)
    return (column >= F.lit(window.first)) & (column < F.lit(window.end))


def is_spark_dataframe(data: Any) -> bool:
    """Whether `data` is a Spark DataFrame (classic or Spark Connect), without importing pyspark for others."""
    if not type(data).__module__.startswith("pyspark."):
        return False
    from pyspark.sql import DataFrame

    return isinstance(data, DataFrame)


def as_batch(data: Any, contract: Contract) -> Batch:
    """The batch for what a producer returned; anything but a DataFrame is refused by `as_polars`."""
    if is_spark_dataframe(data):
        from pyspark import StorageLevel

        return SparkBatch(frame=data.persist(StorageLevel.MEMORY_AND_DISK))  # judged, then written: computed once
    return PolarsBatch(data=data, frame=as_polars(data, contract.plan))
