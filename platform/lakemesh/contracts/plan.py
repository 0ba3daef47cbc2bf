"""The engine-neutral check plan: one object per guarantee of a contract, and the columns it guards.

A contract compiles first to this plan (plain Python values: no polars, pandas
or Spark types; `lakemesh.contracts.compiler` builds it), and each engine
compiles the plan to what it runs: pandera's polars backend (`lakemesh.quality`),
its pyspark backend for Spark. The same check names are the Dagster asset
checks, the OpenLineage assertions and the words of a refusal.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "SCHEMA_CHECK",
    "Bound",
    "Check",
    "CheckBound",
    "CheckKind",
    "CheckPlan",
    "Column",
    "ColumnType",
    "MetricRule",
    "QualityRule",
    "Range",
    "SqlRule",
]

SCHEMA_CHECK = "schema"
"""Name of the structural check: every contract column present, no other, each of its type."""

CheckKind = Literal[
    "schema", "not_null", "finite", "unique", "allowed_values", "range", "length", "pattern", "metric", "sql"
]


@dataclass(frozen=True, kw_only=True)
class ColumnType:
    """A column's type in engine-neutral words: `int64`, `decimal` (with precision and scale), `timestamp`, ..."""

    kind: str
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        return f"decimal({self.precision},{self.scale})" if self.kind == "decimal" else self.kind

    @property
    def numeric(self) -> bool:
        return self.kind.startswith(("int", "float")) or self.kind == "decimal"

    @property
    def temporal(self) -> bool:
        return self.kind in ("date", "timestamp", "timestamptz")


@dataclass(frozen=True, kw_only=True)
class Column:
    """One column of a product: the contract's schema property, its neutral type and the guarantees it carries."""

    name: str
    type: ColumnType
    logical_type: str
    physical_type: str | None
    description: str | None
    required: bool
    unique: bool
    primary_key_position: int | None
    classification: str | None
    allowed_values: tuple[Any, ...] | None
    options: dict[str, Any]
    """The ODCS `logicalTypeOptions` (bounds, lengths, pattern) as written."""

    @property
    def primary_key(self) -> bool:
        return self.primary_key_position is not None

    @property
    def nullable(self) -> bool:
        return not self.required

    @property
    def sensitive(self) -> bool:
        """Values of a column classified as anything but `public` never leave the owning domain."""
        return self.classification is not None and self.classification.lower() != "public"


@dataclass(frozen=True, kw_only=True)
class QualityRule:
    """One ODCS quality rule (`library` metric or `sql` query) with its operator, as the contract writes it."""

    name: str
    column: str | None
    metric: str | None
    query: str | None
    arguments: dict[str, Any]
    operator: str
    threshold: Any
    unit: str
    description: str | None
    where: str
    """The rule's field path in the contract file, for messages."""


_COMPARE: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "mustBe": (op.eq, "="),
    "mustNotBe": (op.ne, "!="),
    "mustBeGreaterThan": (op.gt, ">"),
    "mustBeGreaterOrEqualTo": (op.ge, ">="),
    "mustBeLessThan": (op.lt, "<"),
    "mustBeLessOrEqualTo": (op.le, "<="),
    "mustBeBetween": (lambda v, t: t[0] <= v <= t[1], "between"),
    "mustNotBeBetween": (lambda v, t: not t[0] <= v <= t[1], "not between"),
}


@dataclass(frozen=True, kw_only=True)
class Bound:
    """An ODCS operator with its threshold (a `(low, high)` pair for the two `Between` operators)."""

    operator: str
    value: float | tuple[float, float]

    def passes(self, measured: float) -> bool:
        """Whether a measured number meets the bound."""
        return _COMPARE[self.operator][0](measured, self.value)

    def describe(self) -> str:
        """The bound in the words of a refusal: `= 1`, `between 1 and 5`."""
        word = _COMPARE[self.operator][1]
        if isinstance(self.value, tuple):
            return f"{word} {self.value[0]} and {self.value[1]}"
        return f"{word} {self.value}"


@dataclass(frozen=True, kw_only=True)
class Range:
    """Typed bounds of a column's values; `None` is unbounded on that side."""

    low: Any = None
    high: Any = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def describe(self) -> str:
        """`between 1 and 5`, `>= 0`, `> 0 and <= 1`: what a check's description says of its values."""
        low = f"{'>=' if self.low_inclusive else '>'} {self.low}" if self.low is not None else None
        high = f"{'<=' if self.high_inclusive else '<'} {self.high}" if self.high is not None else None
        if low and high and self.low_inclusive and self.high_inclusive:
            return f"between {self.low} and {self.high}"
        return " and ".join(p for p in (low, high) if p)


@dataclass(frozen=True, kw_only=True)
class MetricRule:
    """An ODCS library metric measured on the whole batch and compared with its bound."""

    metric: str
    arguments: dict[str, Any]
    bound: Bound
    unit: str


@dataclass(frozen=True, kw_only=True)
class SqlRule:
    """A read-only ODCS SQL rule: one SELECT over the batch (the table `table`) returning one number.

    `query` is written in `dialect`; an engine that speaks another reads it through `in_dialect`.
    """

    query: str
    table: str
    bound: Bound
    dialect: str = "duckdb"

    def in_dialect(self, dialect: str) -> str:
        """The query in another engine's SQL (itself when the engine speaks the rule's dialect)."""
        if dialect == self.dialect:
            return self.query
        import sqlglot  # only for an engine of another dialect

        return sqlglot.transpile(self.query, read=self.dialect, write=dialect)[0]


CheckBound = Range | MetricRule | SqlRule | tuple[Any, ...] | str | None
"""What a check compares with: a range, a metric or SQL rule, allowed values, a (min, max) length, a pattern."""


@dataclass(frozen=True, kw_only=True)
class Check:
    """One guarantee: its name, what it looks at, its bound and how it is described to people."""

    name: str
    kind: CheckKind
    columns: tuple[str, ...]
    bound: CheckBound
    description: str

    @property
    def column(self) -> str | None:
        """The column the check is about, as one string (`a,b` for a composite key)."""
        return ",".join(self.columns) or None

    @property
    def batch_level(self) -> bool:
        """Judged on the batch as a whole rather than row by row."""
        return self.kind in ("schema", "metric", "sql")


@dataclass(frozen=True, kw_only=True)
class CheckPlan:
    """Everything the gate checks for one product."""

    product: str
    columns: tuple[Column, ...]
    checks: tuple[Check, ...]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def sensitive(self, check: Check) -> bool:
        """Whether examples of this check's failures would show values of a sensitive column."""
        columns = [self.column(name) for name in check.columns]
        if check.kind == "sql":  # a query may read any column
            columns = list(self.columns)
        return any(column is not None and column.sensitive for column in columns)
