"""Contract -> check plan: the schema's columns typed, each guarantee one check, every rule proven runnable.

Compiling refuses any rule that cannot be evaluated, naming the rule's place
in the contract file, so a contract either loads with checks that work or does
not load at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from lakemesh.contracts.plan import (
    SCHEMA_CHECK,
    Bound,
    Check,
    CheckPlan,
    Column,
    ColumnType,
    MetricRule,
    QualityRule,
    Range,
    SqlRule,
)
from lakemesh.errors import first_line
from lakemesh.sql import query_reads

if TYPE_CHECKING:
    from open_data_contract_standard.model import SchemaProperty

    from lakemesh.errors import ContractInvalid

__all__ = ["SQL_RULE_DIALECT", "compile_plan"]

SQL_RULE_DIALECT = "duckdb"
"""ODCS names no dialect for `sql` rules: the platform reads them as DuckDB's SQL, that of its polars gate and dbt."""

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
_COLUMN_METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues")


def _column_type(physical_type: str | None, logical_type: str) -> ColumnType:
    """A column's neutral type: its physical type, else its logical type's default."""
    physical = (physical_type or _LOGICAL_DEFAULT.get(logical_type, "")).strip().lower()
    if match := _DECIMAL.fullmatch(physical):
        return ColumnType(kind="decimal", precision=int(match[1]), scale=int(match[2]))
    base = re.sub(r"\s*\(.*\)$", "", physical)  # varchar(25) -> varchar
    if base not in _TYPES:
        raise ValueError(f"no known type for physicalType {physical_type!r} / logicalType {logical_type!r}")
    return ColumnType(kind=_TYPES[base])


def _column(prop: SchemaProperty) -> Column:
    """A schema property (its name and logical type already checked) as the plan's typed column."""
    return Column(
        name=prop.name or "",
        type=_column_type(prop.physicalType, prop.logicalType or ""),
        logical_type=prop.logicalType or "",
        physical_type=prop.physicalType,
        description=prop.description,
        required=bool(prop.required or prop.primaryKey),
        unique=bool(prop.unique),
        primary_key_position=(prop.primaryKeyPosition or 1) if prop.primaryKey else None,
        classification=prop.classification,
        allowed_values=tuple(e.value for e in prop.enum) if prop.enum else None,
        options=dict(prop.logicalTypeOptions or {}),
    )


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


def _range(column: Column) -> Range | None:
    options = column.options
    keys = [k for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum") if k in options]
    if not keys:
        return None
    if ("minimum" in keys and "exclusiveMinimum" in keys) or ("maximum" in keys and "exclusiveMaximum" in keys):
        raise ValueError("give one lower and one upper bound at most (minimum or exclusiveMinimum, ...)")
    bounds = {k: _typed_bound(options[k], column.type, f"logicalTypeOptions.{k}") for k in keys}
    found = Range(
        low=bounds.get("minimum", bounds.get("exclusiveMinimum")),
        high=bounds.get("maximum", bounds.get("exclusiveMaximum")),
        low_inclusive="exclusiveMinimum" not in bounds,
        high_inclusive="exclusiveMaximum" not in bounds,
    )
    if found.low is not None and found.high is not None and found.low > found.high:
        raise ValueError(f"the lower bound {found.low} is above the upper bound {found.high}")
    return found


def _length(column: Column) -> tuple[int, int | None] | None:
    low, high = column.options.get("minLength"), column.options.get("maxLength")
    if low is None and high is None:
        return None
    for key, value in (("minLength", low), ("maxLength", high)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"logicalTypeOptions.{key} must be a whole number >= 0, got {value!r}")
    return (low or 0, high)


def _column_checks(column: Column, primary_key: tuple[str, ...]) -> list[Check]:
    name, found = column.name, []
    if column.required:
        found.append(Check(name=f"{name}__not_null", kind="not_null", columns=(name,), bound=None,
                           description=f"{name} is never null"))  # fmt: skip
    if column.required and column.type.kind in ("float32", "float64"):  # a required number: NaN and inf are not
        found.append(Check(name=f"{name}__finite", kind="finite", columns=(name,), bound=None,
                           description=f"{name} is a finite number, never NaN or infinite"))  # fmt: skip
    if column.allowed_values:
        shown = ", ".join(map(str, column.allowed_values))
        found.append(Check(name=f"{name}__allowed_values", kind="allowed_values", columns=(name,),
                           bound=tuple(column.allowed_values), description=f"{name} in ({shown})"))  # fmt: skip
    if (bound := _range(column)) is not None:
        found.append(Check(name=f"{name}__range", kind="range", columns=(name,), bound=bound,
                           description=f"{name} {bound.describe()}"))  # fmt: skip
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


def _bound(rule: QualityRule) -> Bound:
    value = rule.threshold
    if rule.operator in ("mustBeBetween", "mustNotBeBetween"):
        if not (isinstance(value, list | tuple) and len(value) == 2):
            raise ValueError(f"{rule.operator} needs a list of two numbers [low, high], got {value!r}")
        low, high = (_number(v, rule.operator) for v in value)
        if low > high:
            raise ValueError(f"{rule.operator} needs low <= high, got {value!r}")
        return Bound(operator=rule.operator, value=(low, high))
    return Bound(operator=rule.operator, value=_number(value, rule.operator))


def _number(value: Any, operator: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{operator} needs a finite number, got {value!r}")
    return value


def _metric(rule: QualityRule, columns: dict[str, Column]) -> MetricRule:
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
    return MetricRule(metric=rule.metric or "", arguments=arguments, bound=_bound(rule), unit=rule.unit)


def _read_only_query(query: str, *, table: str, column: str | None, dialect: str) -> exp.Query:
    """The rule's query (in `dialect`) with its placeholders filled, if it is one read-only SELECT over the batch.

    Refused: several statements, anything but a query, a table other than the
    batch (or the query's own CTEs), table functions (which read files or other
    databases) and functions known to read files.
    """
    text = query.replace("${object}", table).replace("{object}", table)
    if column is not None:
        text = text.replace("${property}", column).replace("{property}", column)
    try:
        reads = query_reads(text, dialect=dialect)
    except ValueError as error:
        raise ValueError(f"query {error}") from None
    if reads.outside_calls:
        raise ValueError(f"query may read the batch ({table}) only, not {reads.outside_calls[0]}")
    for node in reads.relations:
        if node.args.get("db") or node.args.get("catalog"):
            raise ValueError(f"query may read the batch ({table}) only, not {node.sql(dialect=dialect)}")
        if node.name.lower() != table.lower():
            raise ValueError(f"query may read the batch ({table}) only, not the table {node.name!r}")
    return reads.query


_DUCKDB_TYPES = {"int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT", "float32": "FLOAT",
                 "float64": "DOUBLE", "string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
                 "timestamptz": "TIMESTAMPTZ", "boolean": "BOOLEAN"}  # fmt: skip


def _bind(query: exp.Query, *, table: str, columns: dict[str, Column]) -> None:
    """Plan the (DuckDB) query over an empty table of the contract's columns: unknown columns or functions fail now."""
    import duckdb  # SQL rules run in DuckDB; imported only for contracts that have one

    typed = ", ".join(
        f'"{column.name}" {_DUCKDB_TYPES.get(column.type.kind) or str(column.type).upper()}'
        for column in columns.values()
    )
    with duckdb.connect(config={"enable_external_access": False}) as con:
        con.execute(f'CREATE TABLE "{table}" ({typed})')
        try:
            con.execute(f"EXPLAIN {query.sql(dialect='duckdb')}")
        except duckdb.Error as error:
            raise ValueError(
                f"query does not run on the contract's columns: {_unbound(error, query, columns)}"
            ) from None


_POINTER = re.compile(r"^(?P<line>LINE \d+: .*)\n(?P<marks> *\^+)$", re.M)
"""DuckDB's pointer under the failing part of a query: the query's line, then carets under the part."""


def _unbound(error: Exception, query: exp.Query, columns: dict[str, Column]) -> str:
    """Why a query does not bind, in one line: DuckDB's reason, the part it points at, and for a type
    mismatch the contract's columns there (else those the query reads) with the types the contract declares."""
    reason = re.sub(r"^\w+ Error: ", "", first_line(error)).rstrip(".")
    pointed = _POINTER.search(str(error))
    part = pointed["line"][pointed["marks"].index("^") : len(pointed["marks"])] if pointed else ""
    where = f" (at `{part}`)" if part else ""
    named = [c for c in columns.values() if re.search(rf"\b{c.name}\b", part, re.I)]
    if not named:
        read = {node.name.lower() for node in query.find_all(exp.Column)}
        named = [c for c in columns.values() if c.name.lower() in read]
    if "type" not in reason.lower() or not named:  # an unknown column or function: DuckDB's own words name it
        return f"{reason}{where}"
    declared = " and ".join(f"{c.name} as {_declared(c)}" for c in named)
    return (
        f"{reason}{where}; the contract declares {declared}: make the query fit (e.g. with a CAST) or change the type"
    )


def _declared(column: Column) -> str:
    """The field that gives a column its type, as the contract writes it."""
    return f"physicalType {column.physical_type}" if column.physical_type else f"logicalType {column.logical_type}"


def _quality_check(rule: QualityRule, product: str, columns: dict[str, Column]) -> Check:
    if rule.column is not None and rule.column not in columns:
        raise ValueError(f"the rule's column {rule.column!r} is not a column of the contract")
    measure: MetricRule | SqlRule
    if rule.query is not None:
        table = product.split(".")[1]
        query = _read_only_query(rule.query, table=table, column=rule.column, dialect=SQL_RULE_DIALECT)
        _bind(query, table=table, columns=columns)
        measure = SqlRule(
            query=query.sql(dialect=SQL_RULE_DIALECT), table=table, bound=_bound(rule), dialect=SQL_RULE_DIALECT
        )
        measured = "query result"
    else:
        measure = _metric(rule, columns)
        unit = " (percent)" if rule.unit == "percent" else ""
        measured = f"{rule.metric}{f' of {rule.column}' if rule.column else ''}{unit}"
    return Check(
        name=rule.name,
        kind="sql" if rule.query is not None else "metric",
        columns=(rule.column,) if rule.column else (),
        bound=measure,
        description=rule.description or f"{measured} {measure.bound.describe()}",
    )


def compile_plan(
    product: str,
    properties: Sequence[SchemaProperty],
    quality: Sequence[QualityRule],
    *,
    fail: Callable[[str, str], ContractInvalid],
) -> CheckPlan:
    """The plan of a contract's guarantees; `fail(field_path, reason)` builds the refusal of a bad one.

    `properties` are the contract table's schema properties, their names and logical types already checked.
    """
    columns: dict[str, Column] = {}
    checks = [Check(name=SCHEMA_CHECK, kind="schema", columns=(), bound=None,
                    description="columns and types match the contract")]  # fmt: skip
    keyed = sorted((p for p in properties if p.primaryKey), key=lambda p: p.primaryKeyPosition or 1)
    primary_key = tuple(p.name or "" for p in keyed)
    if primary_key:
        checks.append(Check(name="primary_key__unique", kind="unique", columns=primary_key, bound=None,
                            description=f"primary key ({', '.join(primary_key)}) is unique"))  # fmt: skip
    for i, prop in enumerate(properties):
        try:
            column = columns[prop.name or ""] = _column(prop)
            checks += _column_checks(column, primary_key)
        except ValueError as error:
            raise fail(f"schema[0].properties[{i}]", f"column {prop.name!r}: {error}") from None
    for rule in quality:
        try:
            if any(check.name == rule.name for check in checks):
                raise ValueError("the name is taken by a check the contract's schema makes; choose another")
            checks.append(_quality_check(rule, product, columns))
        except ValueError as error:
            raise fail(rule.where, f"rule {rule.name!r}: {error}") from None
    return CheckPlan(product=product, columns=tuple(columns.values()), checks=tuple(checks))
