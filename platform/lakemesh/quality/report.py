"""The verdict of the gate: which checks failed, how often, with examples a person can act on.

Examples of failing values are redacted for checks over columns classified as
anything but `public`: the report travels into refusal messages, OpenLineage
events, the catalog and Dagster metadata, all outside the owning domain. The
unredacted rows go only to the domain's quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from lakemesh.contracts import Contract

__all__ = ["CheckFailure", "ValidationReport"]

REDACTED = "<redacted>"


@dataclass(frozen=True, kw_only=True)
class CheckFailure:
    """One check that failed: where, how often (-1: the batch as a whole), and a few offending values."""

    check: str
    column: str | None
    rows: int
    examples: tuple[str, ...]
    redacted: bool = False
    reason: str | None = None

    def describe(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        count = "the whole batch" if self.rows < 0 else f"{self.rows} row{'s' * (self.rows != 1)}"
        text = f"{where}, check '{self.check}': {count}"
        if self.reason:
            text += f": {self.reason}"
        if self.redacted:
            return text + " (values redacted: the column is classified)"
        return text + (f" (e.g. {', '.join(self.examples)})" if self.examples else "")


@dataclass(frozen=True, kw_only=True)
class ValidationReport:
    """Every check's outcome; `failing_rows` are row positions, or None for the whole batch."""

    contract: Contract
    rows: int
    failures: tuple[CheckFailure, ...]
    failing_rows: pl.Series | None

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def checks(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.contract.plan.checks)

    def failed(self, check: str) -> CheckFailure | None:
        return next((f for f in self.failures if f.check == check), None)

    def outcome(self) -> dict[str, bool]:
        """Check name -> passed, in plan order."""
        return {name: self.failed(name) is None for name in self.checks}

    def summary(self) -> str:
        return "; ".join(f.describe() for f in self.failures)
