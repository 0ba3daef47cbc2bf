"""The engine-neutral check plan: one object per guarantee of a contract.

A contract compiles first to this plan (plain Python values: no polars, pandas
or Spark types), and each engine compiles the plan to what it runs: pandera's
polars backend today (`lakemesh.quality`), its pyspark backend for Spark. The
same check names are the Dagster asset checks, the OpenLineage assertions and
the words of a refusal. Compiling refuses any rule that cannot be evaluated,
naming the rule's place in the contract file, so a contract either loads with
checks that work or does not load at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from lakemesh.sql import query_reads

if TYPE_CHECKING:
    from lakemesh.contracts.model import Column, QualityRule
    from lakemesh.errors import ContractInvalid

__all__ = [
    "SCHEMA_CHECK",
    "Check",
    "CheckKind",
    "CheckPlan",
    "ColumnSpec",
    "ColumnType",
    "MetricRule",
    "Range",
    "SqlRule",
    "compile_plan",
    "passes",
]

SCHEMA_CHECK = "schema"
"""Name of the structural check: every contract column present, no other, each of its type."""

CheckKind = Literal[
    "schema", "not_null", "finite", "unique", "allowed_values", "range", "length", "pattern", "metric", "sql"
]

_INTEGERS = {"tinyint": "int8", "smallint": "int16", "int": "int32", "integer": "int32", "int32": "int32"}
_INTEGERS |= {"bigint": "int64", "int64": "int64", "long": "int64"}
_TYPES = _INTEGERS | {
    "double": "float64",
    "float64": "float64",
    "float": "float32",
    "real": "float32",
    "varchar": "string",
    "string": "string",
    "text": "string",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
    "timestamptz": "timestamptz",
    "boolean": "boolean",
    "bool": "boolean",
}
_LOGICAL_DEFAULT = {
    "string": "varchar",
    "integer": "bigint",
    "number": "double",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}
_DECIMAL = re.compile(r"(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")


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
class ColumnSpec:
    """One column the batch must have."""

    name: str
    type: ColumnType
    nullable: bool
    classification: str | None

    @property
    def sensitive(self) -> bool:
        """Values of a column classified as anything but `public` never leave the owning domain."""
        return self.classification is not None and self.classification.lower() != "public"


@dataclass(frozen=True, kw_only=True)
class Range:
    """Typed bounds of a column's values; `None` is unbounded on that side."""

    low: Any = None
    high: Any = None
    low_inclusive: bool = True
    high_inclusive: bool = True


@dataclass(frozen=True, kw_only=True)
class MetricRule:
    """An ODCS library metric measured on the whole batch and compared with its bound."""

    metric: str
    arguments: dict[str, Any]
    operator: str
    threshold: Any
    unit: str


@dataclass(frozen=True, kw_only=True)
class SqlRule:
    """A read-only ODCS SQL rule: one SELECT over the batch (the table `table`) returning one number."""

    query: str
    table: str
    operator: str
    threshold: Any


@dataclass(frozen=True, kw_only=True)
class Check:
    """One guarantee: its name, what it looks at, its bound and how it is described to people."""

    name: str
    kind: CheckKind
    columns: tuple[str, ...]
    bound: Any
    description: str
    severity: Literal["error"] = "error"

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
    columns: tuple[ColumnSpec, ...]
    checks: tuple[Check, ...]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    def sensitive(self, check: Check) -> bool:
        """Whether examples of this check's failures would show values of a sensitive column."""
        specs = [self.column(name) for name in check.columns]
        if check.kind == "sql":  # a query may read any column
            specs = list(self.columns)
        return any(spec is not None and spec.sensitive for spec in specs)


_COMPARE: dict[str, Callable[[float, Any], bool]] = {
    "mustBe": lambda v, t: v == t,
    "mustNotBe": lambda v, t: v != t,
    "mustBeGreaterThan": lambda v, t: v > t,
    "mustBeGreaterOrEqualTo": lambda v, t: v >= t,
    "mustBeLessThan": lambda v, t: v < t,
    "mustBeLessOrEqualTo": lambda v, t: v <= t,
    "mustBeBetween": lambda v, t: t[0] <= v <= t[1],
    "mustNotBeBetween": lambda v, t: not t[0] <= v <= t[1],
}
_OPERATOR_WORDS = {
    "mustBe": "=",
    "mustNotBe": "!=",
    "mustBeGreaterThan": ">",
    "mustBeGreaterOrEqualTo": ">=",
    "mustBeLessThan": "<",
    "mustBeLessOrEqualTo": "<=",
    "mustBeBetween": "between",
    "mustNotBeBetween": "not between",
}
_COLUMN_METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues")


def passes(value: float, operator: str, threshold: Any) -> bool:
    """Whether a measured value meets an ODCS operator's bound."""
    return _COMPARE[operator](value, threshold)


def describe_bound(operator: str, threshold: Any) -> str:
    if operator in ("mustBeBetween", "mustNotBeBetween"):
        return f"{_OPERATOR_WORDS[operator]} {threshold[0]} and {threshold[1]}"
    return f"{_OPERATOR_WORDS[operator]} {threshold}"


def column_type(column: Column) -> ColumnType:
    """A column's neutral type: its physical type, else its logical type's default."""
    physical = (column.physical_type or _LOGICAL_DEFAULT.get(column.logical_type, "")).strip().lower()
    if match := _DECIMAL.fullmatch(physical):
        return ColumnType(kind="decimal", precision=int(match[1]), scale=int(match[2]))
    base = re.sub(r"\s*\(.*\)$", "", physical)  # varchar(25) -> varchar
    if base not in _TYPES:
        raise ValueError(
            f"no known type for physicalType {column.physical_type!r} / logicalType {column.logical_type!r}"
        )
    return ColumnType(kind=_TYPES[base])


def _typed_bound(value: Any, kind: ColumnType, key: str) -> Any:
    """A range bound in the column's own type: numbers for numbers, dates and UTC timestamps for time."""
    if kind.temporal:
        if not isinstance(value, str | date):
            raise ValueError(f"{key} must be an ISO {kind} such as 2024-01-31, got {value!r}")
        try:
            if kind.kind == "date":
                return value if isinstance(value, date) else date.fromisoformat(value)
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{key} must be an ISO {kind}, got {value!r}") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return moment if kind.kind == "timestamptz" else moment.replace(tzinfo=None)
    if kind.numeric:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{key} must be a finite number for a {kind} column, got {value!r}")
        return value
    raise ValueError(f"{key} applies to numbers, dates and timestamps, not to a {kind} column")


def _range(column: Column, kind: ColumnType) -> Range | None:
    options = column.options
    keys = [k for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum") if k in options]
    if not keys:
        return None
    if ("minimum" in keys and "exclusiveMinimum" in keys) or ("maximum" in keys and "exclusiveMaximum" in keys):
        raise ValueError("give one lower and one upper bound at most (minimum or exclusiveMinimum, ...)")
    bounds = {k: _typed_bound(options[k], kind, f"logicalTypeOptions.{k}") for k in keys}
    found = Range(
        low=bounds.get("minimum", bounds.get("exclusiveMinimum")),
        high=bounds.get("maximum", bounds.get("exclusiveMaximum")),
        low_inclusive="exclusiveMinimum" not in bounds,
        high_inclusive="exclusiveMaximum" not in bounds,
    )
    if found.low is not None and found.high is not None and found.low > found.high:
        raise ValueError(f"the lower bound {found.low} is above the upper bound {found.high}")
    return found


def _describe_range(bound: Range) -> str:
    low = f"{'>=' if bound.low_inclusive else '>'} {bound.low}" if bound.low is not None else None
    high = f"{'<=' if bound.high_inclusive else '<'} {bound.high}" if bound.high is not None else None
    if low and high and bound.low_inclusive and bound.high_inclusive:
        return f"between {bound.low} and {bound.high}"
    return " and ".join(p for p in (low, high) if p)


def _length(column: Column) -> tuple[int, int | None] | None:
    low, high = column.options.get("minLength"), column.options.get("maxLength")
    if low is None and high is None:
        return None
    for key, value in (("minLength", low), ("maxLength", high)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"logicalTypeOptions.{key} must be a whole number >= 0, got {value!r}")
    return (low or 0, high)


def _column_checks(column: Column, kind: ColumnType, primary_key: tuple[str, ...]) -> list[Check]:
    name, found = column.name, []
    if column.required:
        found.append(Check(name=f"{name}__not_null", kind="not_null", columns=(name,), bound=None,
                           description=f"{name} is never null"))  # fmt: skip
    if column.required and kind.kind in ("float32", "float64"):  # a required number is a number: NaN and inf are not
        found.append(Check(name=f"{name}__finite", kind="finite", columns=(name,), bound=None,
                           description=f"{name} is a finite number, never NaN or infinite"))  # fmt: skip
    if column.allowed_values:
        shown = ", ".join(map(str, column.allowed_values))
        found.append(Check(name=f"{name}__allowed_values", kind="allowed_values", columns=(name,),
                           bound=tuple(column.allowed_values), description=f"{name} in ({shown})"))  # fmt: skip
    if (bound := _range(column, kind)) is not None:
        found.append(Check(name=f"{name}__range", kind="range", columns=(name,), bound=bound,
                           description=f"{name} {_describe_range(bound)}"))  # fmt: skip
    if (length := _length(column)) is not None:
        shown = f"{length[0]} to {length[1]}" if length[1] is not None else f"at least {length[0]}"
        found.append(Check(name=f"{name}__length", kind="length", columns=(name,), bound=length,
                           description=f"{name} is {shown} characters long"))  # fmt: skip
    if (pattern := column.options.get("pattern")) is not None:
        _regex(pattern, "logicalTypeOptions.pattern")
        found.append(Check(name=f"{name}__pattern", kind="pattern", columns=(name,), bound=pattern,
                           description=f"{name} matches /{pattern}/"))  # fmt: skip
    if column.unique and primary_key != (name,):
        found.append(Check(name=f"{name}__unique", kind="unique", columns=(name,), bound=None,
                           description=f"{name} is unique"))  # fmt: skip
    return found


def _regex(pattern: Any, key: str) -> str:
    if not isinstance(pattern, str):
        raise ValueError(f"{key} must be a regular expression, got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{key} is not a valid regular expression: {error}") from None
    return pattern


def _values_fit(values: list[Any], kind: ColumnType, key: str) -> None:
    """Listed values must be of the column's kind: numbers for numbers, text for text."""
    wanted = (int, float) if kind.numeric else (str,) if kind.kind == "string" else None
    wrong = [v for v in values if wanted and (isinstance(v, bool) or not isinstance(v, wanted))]
    if wrong:
        raise ValueError(f"{key} must hold {kind} values like the column, got {wrong[:3]!r}")


def _threshold(rule: QualityRule) -> Any:
    value = rule.threshold
    if rule.operator in ("mustBeBetween", "mustNotBeBetween"):
        if not (isinstance(value, list | tuple) and len(value) == 2):
            raise ValueError(f"{rule.operator} needs a list of two numbers [low, high], got {value!r}")
        low, high = (_number(v, rule.operator) for v in value)
        if low > high:
            raise ValueError(f"{rule.operator} needs low <= high, got {value!r}")
        return (low, high)
    return _number(value, rule.operator)


def _number(value: Any, operator: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{operator} needs a finite number, got {value!r}")
    return value


def _metric(rule: QualityRule, columns: dict[str, ColumnSpec]) -> MetricRule:
    kind = columns[rule.column].type if rule.column else None
    if rule.metric in _COLUMN_METRICS and rule.column is None:
        raise ValueError(f"{rule.metric} is a column metric: put the rule under a column's quality")
    if rule.metric == "rowCount" and rule.unit == "percent":
        raise ValueError("rowCount counts rows; a percent of the batch's own size means nothing")
    arguments = dict(rule.arguments)
    if rule.metric == "invalidValues":
        given = {k: v for k, v in arguments.items() if k in ("validValues", "invalidValues", "pattern")}
        if not given or any(v in (None, [], "") for v in given.values()):
            raise ValueError("invalidValues needs non-empty arguments: validValues, invalidValues or pattern")
    if rule.metric == "missingValues" and not isinstance(arguments.get("missingValues", []), list):
        raise ValueError("arguments.missingValues must be a list of the values that count as missing")
    for key in ("missingValues", "validValues", "invalidValues"):
        if isinstance(arguments.get(key), list) and kind is not None:
            _values_fit(arguments[key], kind, f"arguments.{key}")
    if "pattern" in arguments:
        _regex(arguments["pattern"], "arguments.pattern")
    unknown = sorted(set(arguments) - {"validValues", "invalidValues", "pattern", "missingValues"})
    if unknown:
        raise ValueError(f"unknown arguments {unknown} for {rule.metric}")
    return MetricRule(
        metric=rule.metric or "",
        arguments=arguments,
        operator=rule.operator,
        threshold=_threshold(rule),
        unit=rule.unit,
    )


def read_only_query(query: str, *, table: str, column: str | None) -> str:
    """The rule's query with its placeholders filled, if it is one read-only SELECT over the batch alone.

    Refused: several statements, anything but a query, a table other than the
    batch (or the query's own CTEs), table functions (which read files or other
    databases) and functions known to read files.
    """
    text = query.replace("${object}", table).replace("{object}", table)
    if column is not None:
        text = text.replace("${property}", column).replace("{property}", column)
    try:
        reads = query_reads(text)
    except ValueError as error:
        raise ValueError(f"query {error}") from None
    if reads.outside_calls:
        raise ValueError(f"query may read the batch ({table}) only, not {reads.outside_calls[0]}")
    for node in reads.relations:
        if node.args.get("db") or node.args.get("catalog"):
            raise ValueError(f"query may read the batch ({table}) only, not {node.sql(dialect='duckdb')}")
        if node.name.lower() != table.lower():
            raise ValueError(f"query may read the batch ({table}) only, not the table {node.name!r}")
    return reads.query.sql(dialect="duckdb")


_DUCKDB_TYPES = {"int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT", "float32": "FLOAT",
                 "float64": "DOUBLE", "string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
                 "timestamptz": "TIMESTAMPTZ", "boolean": "BOOLEAN"}  # fmt: skip


def _bind(query: str, *, table: str, columns: dict[str, ColumnSpec]) -> None:
    """Plan the query over an empty table of the contract's columns: unknown columns or functions fail now."""
    import duckdb  # SQL rules run in DuckDB; imported only for contracts that have one

    typed = ", ".join(
        f'"{spec.name}" {_DUCKDB_TYPES.get(spec.type.kind) or str(spec.type).upper()}' for spec in columns.values()
    )
    with duckdb.connect(config={"enable_external_access": False}) as con:
        con.execute(f'CREATE TABLE "{table}" ({typed})')
        try:
            con.execute(f"EXPLAIN {query}")
        except duckdb.Error as error:
            raise ValueError(f"query does not run on the contract's columns: {str(error).splitlines()[0]}") from None


def _quality_check(rule: QualityRule, product: str, columns: dict[str, ColumnSpec]) -> Check:
    if rule.column is not None and rule.column not in columns:
        raise ValueError(f"the rule's column {rule.column!r} is not a column of the contract")
    if rule.query is not None:
        table = product.split(".")[1]
        query = read_only_query(rule.query, table=table, column=rule.column)
        _bind(query, table=table, columns=columns)
        bound: MetricRule | SqlRule = SqlRule(
            query=query,
            table=table,
            operator=rule.operator,
            threshold=_threshold(rule),
        )
        measured = "query result"
    else:
        bound = _metric(rule, columns)
        unit = " (percent)" if rule.unit == "percent" else ""
        measured = f"{rule.metric}{f' of {rule.column}' if rule.column else ''}{unit}"
    return Check(
        name=rule.name,
        kind="sql" if rule.query is not None else "metric",
        columns=(rule.column,) if rule.column else (),
        bound=bound,
        description=rule.description or f"{measured} {describe_bound(rule.operator, bound.threshold)}",
    )


def compile_plan(
    product: str,
    columns: Sequence[Column],
    quality: Sequence[QualityRule],
    *,
    fail: Callable[[str, str], ContractInvalid],
) -> CheckPlan:
    """The plan of a contract's guarantees; `fail(field_path, reason)` builds the refusal of a bad one."""
    specs, checks = {}, [Check(name=SCHEMA_CHECK, kind="schema", columns=(), bound=None,
                               description="columns and types match the contract")]  # fmt: skip
    keyed = sorted((c for c in columns if c.primary_key), key=lambda c: c.primary_key_position or 0)
    primary_key = tuple(c.name for c in keyed)
    if primary_key:
        checks.append(Check(name="primary_key__unique", kind="unique", columns=primary_key, bound=None,
                            description=f"primary key ({', '.join(primary_key)}) is unique"))  # fmt: skip
    for i, column in enumerate(columns):
        try:
            kind = column_type(column)
            specs[column.name] = ColumnSpec(
                name=column.name, type=kind, nullable=not column.required, classification=column.classification
            )
            checks += _column_checks(column, kind, primary_key)
        except ValueError as error:
            raise fail(f"schema[0].properties[{i}]", f"column {column.name!r}: {error}") from None
    for rule in quality:
        try:
            if any(check.name == rule.name for check in checks):
                raise ValueError("the name is taken by a check the contract's schema makes; choose another")
            checks.append(_quality_check(rule, product, specs))
        except ValueError as error:
            raise fail(rule.where, f"rule {rule.name!r}: {error}") from None
    return CheckPlan(product=product, columns=tuple(specs.values()), checks=tuple(checks))
