"""Run a contract's pandera schema lazily and turn the result into a verdict people can act on."""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from lakemesh.contracts import Contract
from lakemesh.schema import SCHEMA_CHECK, compile_schema, contract_checks

__all__ = ["CheckFailure", "ValidationReport", "validate"]

_STRUCTURAL = ("column_in_schema", "column_in_dataframe")
_EXAMPLES = 5


@dataclass(frozen=True, kw_only=True)
class CheckFailure:
    """One check that failed: where, how often, and a few of the offending values."""

    check: str
    column: str | None
    rows: int
    examples: tuple[str, ...]

    def describe(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        count = "the whole batch" if self.rows < 0 else f"{self.rows} row{'s' * (self.rows != 1)}"
        shown = ", ".join(self.examples)
        return f"{where}, check '{self.check}': {count}" + (f" (e.g. {shown})" if shown else "")


@dataclass(frozen=True, kw_only=True)
class ValidationReport:
    """Every check's outcome; `failing_rows` are row positions, or None for the whole batch."""

    contract: Contract
    rows: int
    checks: tuple[str, ...]
    failures: tuple[CheckFailure, ...]
    failing_rows: pl.Series | None

    @property
    def passed(self) -> bool:
        return not self.failures

    def failed(self, check: str) -> CheckFailure | None:
        return next((f for f in self.failures if f.check == check), None)

    def summary(self) -> str:
        return "; ".join(f.describe() for f in self.failures)


def _check_name(check: str, column: str, failure_case: str | None, contract: Contract) -> tuple[str, str | None]:
    """Map pandera's label of a failure to the contract check it belongs to, and its column."""
    if check in _STRUCTURAL:
        return SCHEMA_CHECK, failure_case  # the missing or unexpected column
    if check.startswith("dtype("):
        return SCHEMA_CHECK, column
    if check == "not_nullable":
        return f"{column}__not_null", column
    if column == contract.name:  # a table-level check
        if check == "primary_key__unique":
            return check, ",".join(contract.primary_key)
        rule = next((r for r in contract.quality if r.name == check), None)
        return check, rule.column if rule else None
    return check, column


def _failures(cases: pl.DataFrame, contract: Contract) -> tuple[tuple[CheckFailure, ...], pl.Series | None]:
    """One `CheckFailure` per contract check; a few groups, however many failing rows."""
    batch_checks = {SCHEMA_CHECK, *(rule.name for rule in contract.quality)}  # judged on the batch, not rows
    structural = pl.col("check").is_in(_STRUCTURAL)
    keyed = cases.with_columns(key=pl.when(structural).then(pl.col("failure_case")))
    failures = []
    for (check, column, key), group in keyed.group_by("check", "column", "key", maintain_order=True):
        name, where = _check_name(check, column, key, contract)
        indices = group["index"].drop_nulls()
        batch_level = name in batch_checks or indices.len() < group.height
        examples = group["failure_case"].unique(maintain_order=True).head(_EXAMPLES).to_list()
        failures.append(
            CheckFailure(
                check=name,
                column=where,
                rows=-1 if batch_level else indices.n_unique(),
                examples=tuple("null" if e is None else str(e)[:80] for e in examples),
            )
        )
    whole_batch = any(f.rows < 0 for f in failures)
    rows = None if whole_batch else cases["index"].drop_nulls().unique().sort()
    return tuple(failures), rows


def validate(frame: pl.DataFrame, contract: Contract, *, schema: pa.DataFrameSchema | None = None) -> ValidationReport:
    """Validate lazily (every failure at once) against the contract's compiled schema."""
    schema = schema or compile_schema(contract)
    names = tuple(c.name for c in contract_checks(contract))
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        failures, rows = _failures(errors.failure_cases, contract)
        return ValidationReport(
            contract=contract, rows=frame.height, checks=names, failures=failures, failing_rows=rows
        )
    return ValidationReport(contract=contract, rows=frame.height, checks=names, failures=(), failing_rows=None)
