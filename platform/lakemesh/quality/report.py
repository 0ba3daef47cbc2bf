"""The verdict of the gate: which checks failed, how often, with examples a person can act on.

Examples of failing values are redacted for checks over columns classified as
anything but `public`: the report travels into refusal messages, OpenLineage
events, the catalog and Dagster metadata, all outside the owning domain. The
unredacted rows go only to the domain's quarantine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from lakemesh.contracts import Check, CheckPlan, Contract
from lakemesh.contracts.plan import MetricRule, SqlRule
from lakemesh.errors import CheckError

__all__ = ["REDACTED", "CheckFailure", "ValidationReport", "judge_measurement"]

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


def judge_measurement(
    check: Check, value: Any, rows: int, plan: CheckPlan, *, kept_rows: int = 0
) -> CheckFailure | None:
    """Compare a measured value with its bound; undefined values fail with the reason.

    A `rowCount` is the table's after the commit: the batch's rows and the `kept_rows` the commit keeps (a
    partition's publish keeps the other partitions). A value measured over classified columns is data of theirs:
    it is not shown.
    """
    rule: MetricRule | SqlRule = check.bound
    if isinstance(rule, MetricRule) and rule.metric == "rowCount" and value is not None:
        value += kept_rows
    sensitive = plan.sensitive(check)
    if value is None:
        reason = "the query returned NULL, which meets no bound"
    elif isinstance(rule, MetricRule) and rule.unit == "percent" and rows == 0:
        reason = "a percentage of an empty batch is undefined"
    else:
        value = float(value) if isinstance(value, Decimal) else value
        if isinstance(rule, MetricRule) and rule.unit == "percent":
            value = 100.0 * value / rows
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            shown = f"a {type(value).__name__}" if sensitive else repr(value)
            raise CheckError(f"{plan.product}: check {check.name!r} must measure one number, got {shown}")
        if rule.bound.passes(value):
            return None
        measured = REDACTED if sensitive else f"{value:g}"
        reason = f"measured {measured}, must be {rule.bound.describe()}"
    return CheckFailure(check=check.name, column=check.column, rows=-1, examples=(), reason=reason)
