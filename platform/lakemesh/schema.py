"""Compile a contract into a pandera schema, and name every check it runs.

Each guarantee of a contract becomes one named check; the same names are the
Dagster asset checks, the OpenLineage data-quality assertions and the words in
a refusal message. Uniqueness is tested with a hash count first and only falls
back to row-by-row duplicate search when the count says something is wrong:
that keeps the gate a fraction of the cost of the Delta write.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from lakemesh.contracts import Column, Contract, QualityRule

__all__ = ["SCHEMA_CHECK", "ContractCheck", "compile_schema", "contract_checks", "polars_dtype"]

SCHEMA_CHECK = "schema"
"""Name of the structural check: every contract column present, no other, each of its type."""


@dataclass(frozen=True, kw_only=True)
class ContractCheck:
    """One named guarantee of a contract."""

    name: str
    column: str | None
    description: str


_DECIMAL = re.compile(r"(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_PHYSICAL: dict[str, pl.DataType] = {
    "bigint": pl.Int64(),
    "int64": pl.Int64(),
    "long": pl.Int64(),
    "integer": pl.Int32(),
    "int": pl.Int32(),
    "int32": pl.Int32(),
    "smallint": pl.Int16(),
    "tinyint": pl.Int8(),
    "double": pl.Float64(),
    "float64": pl.Float64(),
    "float": pl.Float32(),
    "real": pl.Float32(),
    "varchar": pl.String(),
    "string": pl.String(),
    "text": pl.String(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "timestamptz": pl.Datetime("us", "UTC"),
    "boolean": pl.Boolean(),
    "bool": pl.Boolean(),
}
_LOGICAL_DEFAULT = {
    "string": "varchar",
    "integer": "bigint",
    "number": "double",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}


def polars_dtype(column: Column) -> pl.DataType:
    """The polars type a column must have: its physical type, else its logical type's default."""
    physical = (column.physical_type or _LOGICAL_DEFAULT.get(column.logical_type, "")).lower()
    if match := _DECIMAL.fullmatch(physical):
        return pl.Decimal(int(match[1]), int(match[2]))
    base = re.sub(r"\s*\(.*\)$", "", physical)  # varchar(25) -> varchar
    if base not in _PHYSICAL:
        raise ValueError(
            f"column {column.name!r}: no known type for physicalType {column.physical_type!r} "
            f"/ logicalType {column.logical_type!r}"
        )
    return _PHYSICAL[base]


def _strictly_ascending(columns: list[str]) -> pl.Expr:
    """True when every row's key is greater than the previous row's: data written in key order."""
    later: pl.Expr | None = None
    for name in reversed(columns):
        col, previous = pl.col(name), pl.col(name).shift(1)
        later = col > previous if later is None else (col > previous) | ((col == previous) & later)
    return later.slice(1).fill_null(False).all()


def _unique_rows(columns: list[str]) -> Callable[[PolarsData], pl.LazyFrame]:
    """A row-level uniqueness check that costs one linear pass (sorted keys) or one hash count
    (clean data) and searches for the duplicate rows only when those say something is wrong."""

    def check(data: PolarsData) -> pl.LazyFrame:
        frame = data.lazyframe
        key = pl.col(columns[0]) if len(columns) == 1 else pl.struct(columns).hash()
        if frame.select(_strictly_ascending(columns)).collect().item():
            return frame.select(pl.lit(True))
        counts = frame.select(distinct=key.n_unique(), rows=pl.len()).collect().row(0)
        if counts[0] == counts[1]:
            return frame.select(pl.lit(True))
        exact = pl.struct(columns).is_unique() if len(columns) > 1 else pl.col(columns[0]).is_unique()
        any_null = pl.any_horizontal([pl.col(c).is_null() for c in columns])
        return frame.select(exact | any_null)

    return check


def _bound(column: Column, key: str) -> Any:
    value = column.options[key]
    return date.fromisoformat(value) if column.logical_type == "date" else value


def _range_expr(column: Column) -> pl.Expr | None:
    """`minimum`/`maximum` (and their exclusive forms) as one polars expression."""
    col, expr = pl.col(column.name), None
    for key, compare in (
        ("minimum", col.__ge__),
        ("exclusiveMinimum", col.__gt__),
        ("maximum", col.__le__),
        ("exclusiveMaximum", col.__lt__),
    ):
        if key in column.options:
            term = compare(_bound(column, key))
            expr = term if expr is None else expr & term
    return expr


def _length_expr(column: Column) -> pl.Expr | None:
    low, high = column.options.get("minLength"), column.options.get("maxLength")
    if low is None and high is None:
        return None
    length = pl.col(column.name).str.len_chars()
    return length.is_between(low if low is not None else 0, high if high is not None else 2**31)


def _row_check(name: str, column: str, expr: pl.Expr) -> pa.Check:
    """A row-level check from a polars expression; nulls pass (they are `not_null`'s business)."""

    def check(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(expr | pl.col(column).is_null())

    return pa.Check(check, name=name, error=name)


def _column_checks(column: Column, primary_key: tuple[str, ...]) -> list[pa.Check]:
    name, col = column.name, pl.col(column.name)
    exprs: dict[str, pl.Expr | None] = {
        "allowed_values": col.is_in(list(column.allowed_values)) if column.allowed_values else None,
        "range": _range_expr(column),
        "length": _length_expr(column),
        "pattern": col.str.contains(column.options["pattern"]) if "pattern" in column.options else None,
    }
    checks = [_row_check(f"{name}__{kind}", name, expr) for kind, expr in exprs.items() if expr is not None]
    if column.unique and primary_key != (name,):
        checks.append(pa.Check(_unique_rows([name]), name=f"{name}__unique", error=f"{name}__unique"))
    return checks


def _quality_value(rule: QualityRule, frame: pl.LazyFrame, table: str) -> float:
    """The measured value of one ODCS quality rule."""
    if rule.query is not None:
        with duckdb.connect() as con:
            con.register(table, frame.collect().to_arrow())
            query = rule.query.replace("${object}", table).replace("{object}", table)
            if rule.column:
                query = query.replace("${property}", rule.column).replace("{property}", rule.column)
            row = con.sql(query).fetchone()
        return float(row[0]) if row and row[0] is not None else 0.0
    col = pl.col(rule.column) if rule.column else None
    if rule.metric == "rowCount":
        value_expr = pl.len()
    elif rule.metric == "nullValues":
        value_expr = col.null_count()
    elif rule.metric == "missingValues":
        missing = rule.arguments.get("missingValues", [])
        value_expr = (col.is_null() | col.is_in(missing)).sum()
    elif rule.metric == "duplicateValues":
        value_expr = pl.len() - col.n_unique()
    else:  # invalidValues
        invalid = pl.lit(False)
        if "validValues" in rule.arguments:
            invalid = invalid | ~col.is_in(rule.arguments["validValues"])
        if "invalidValues" in rule.arguments:
            invalid = invalid | col.is_in(rule.arguments["invalidValues"])
        if "pattern" in rule.arguments:
            invalid = invalid | ~col.cast(pl.String).str.contains(rule.arguments["pattern"])
        value_expr = (invalid & col.is_not_null()).sum()
    value, rows = frame.select(value=value_expr, rows=pl.len()).collect().row(0)
    if rule.unit == "percent" and rule.metric != "rowCount":
        return 100.0 * value / rows if rows else 0.0
    return float(value)


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


def _quality_check(rule: QualityRule, table: str) -> pa.Check:
    def check(data: PolarsData) -> pl.LazyFrame:
        value = _quality_value(rule, data.lazyframe, table)
        return data.lazyframe.select(pl.lit(_COMPARE[rule.operator](value, rule.threshold)))

    return pa.Check(check, name=rule.name, error=rule.name)


def compile_schema(contract: Contract) -> pa.DataFrameSchema:
    """The pandera (polars) schema that the publish gate validates against."""
    columns = {}
    for column in contract.columns:
        try:
            dtype = polars_dtype(column)
        except ValueError as exc:
            raise ValueError(f"{contract.path}: {exc}") from None
        columns[column.name] = pa.Column(
            dtype,
            nullable=not column.required,
            checks=_column_checks(column, contract.primary_key),
            description=column.description,
            title=column.name,
        )
    frame_checks = [_quality_check(rule, contract.product) for rule in contract.quality]
    key = list(contract.primary_key)
    if key:
        frame_checks.insert(0, pa.Check(_unique_rows(key), name="primary_key__unique", error="primary_key__unique"))
    return pa.DataFrameSchema(
        columns,
        checks=frame_checks,
        strict=True,
        ordered=False,
        name=contract.name,
        description=contract.description,
    )


def contract_checks(contract: Contract) -> list[ContractCheck]:
    """Every named check the gate runs for a contract, in a stable order."""
    found = [ContractCheck(name=SCHEMA_CHECK, column=None, description="columns and types match the contract")]
    if contract.primary_key:
        found.append(
            ContractCheck(
                name="primary_key__unique",
                column=",".join(contract.primary_key),
                description=f"primary key ({', '.join(contract.primary_key)}) is unique",
            )
        )
    for column in contract.columns:
        if column.required:
            found.append(ContractCheck(name=f"{column.name}__not_null", column=column.name, description="no nulls"))
        found += [
            ContractCheck(
                name=check.name,
                column=column.name,
                description=check.name.split("__", 1)[1].replace("_", " "),
            )
            for check in _column_checks(column, contract.primary_key)
        ]
    found += [
        ContractCheck(
            name=rule.name,
            column=rule.column,
            description=rule.description or f"{rule.metric or 'sql'} {rule.operator} {rule.threshold}",
        )
        for rule in contract.quality
    ]
    return found
