"""The check plan on Spark: pandera's pyspark backend for the schema, Spark aggregates for the data.

Nothing is collected to the driver but numbers and a bounded sample. pandera's
pyspark backend judges the structure (every contract column, no other, each of
its Spark type) from the DataFrame's schema alone. Every data guarantee (nulls,
allowed values, ranges, lengths, patterns, uniqueness, table metrics) is one
aggregate column of a single Spark pass that counts its failing rows; pandera's
own pyspark checks would cost one pass each and say only pass or fail. SQL
rules run as Spark SQL over the batch, one query each. Only when something
failed does the gate look again: for a few examples per check, and for the
failing rows, which the caller writes to the quarantine with Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandera.pyspark as pa
import pyspark.sql.types as T
import sqlglot
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from sqlglot import exp

from lakemesh.compute.views import temporary_view
from lakemesh.contracts import SCHEMA_CHECK, Check, CheckPlan, ColumnType, Contract
from lakemesh.contracts.plan import MetricRule, SqlRule
from lakemesh.errors import CheckError
from lakemesh.quality.report import REDACTED, CheckFailure, ValidationReport, judge_measurement

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SparkVerdict", "compile_spark_schema", "spark_type", "validate_spark"]

_EXAMPLES = 5
_ROW_KINDS = ("not_null", "finite", "allowed_values", "range", "length", "pattern")
_SIMPLE: dict[str, T.DataType] = {
    "int8": T.ByteType(),
    "int16": T.ShortType(),
    "int32": T.IntegerType(),
    "int64": T.LongType(),
    "float32": T.FloatType(),
    "float64": T.DoubleType(),
    "string": T.StringType(),
    "date": T.DateType(),
    "timestamp": T.TimestampNTZType(),
    "timestamptz": T.TimestampType(),
    "boolean": T.BooleanType(),
}


def spark_type(kind: ColumnType) -> T.DataType:
    """The Spark type of a neutral column type (`timestamp` is Spark's TIMESTAMP_NTZ, `timestamptz` its TIMESTAMP)."""
    if kind.kind == "decimal":
        return T.DecimalType(kind.precision or 38, kind.scale or 0)
    return _SIMPLE[kind.kind]


def compile_spark_schema(plan: CheckPlan) -> pa.DataFrameSchema:
    """The pandera (pyspark) schema of a plan's structure: its columns and their types, nothing else."""
    columns = {spec.name: pa.Column(spark_type(spec.type), nullable=True) for spec in plan.columns}
    return pa.DataFrameSchema(columns, strict=True, name=plan.product)


@dataclass(frozen=True, kw_only=True)
class SparkVerdict:
    """The gate's report, and (when it refused) the rows to quarantine, still a Spark DataFrame."""

    report: ValidationReport
    refused: DataFrame | None


def _broken_columns(frame: DataFrame, plan: CheckPlan) -> tuple[set[str], CheckFailure | None]:
    """Columns missing, extra or of the wrong type, by pandera's pyspark backend (no Spark job)."""
    validated = compile_spark_schema(plan).validate(frame)
    problems = [error for errors in (validated.pandera.errors or {}).get("SCHEMA", {}).values() for error in errors]
    if not problems:
        return set(), None
    actual = dict(frame.dtypes)
    extra = set(actual) - {spec.name for spec in plan.columns}  # pandera names the schema, not the column, for these
    broken = {str(problem["column"]) for problem in problems if plan.column(str(problem["column"]))} | extra
    shown = []
    for name in sorted(broken):
        spec = plan.column(name)
        if spec is None:
            shown.append(f"{name}: not in the contract")
        elif name not in actual:
            shown.append(f"{name}: missing")
        else:
            shown.append(f"{name}: {actual[name]}, expected {spark_type(spec.type).simpleString()}")
    failure = CheckFailure(check=SCHEMA_CHECK, column=", ".join(sorted(broken)), rows=-1, examples=tuple(shown))
    return broken, failure


def _failing(check: Check) -> Column:
    """True on a row that breaks a row-level check; nulls break only `not_null`."""
    column = F.col(check.columns[0])
    if check.kind == "not_null":
        return column.isNull()
    if check.kind == "finite":
        passing = ~F.isnan(column) & (F.abs(column) != F.lit(float("inf")))
    elif check.kind == "allowed_values":
        passing = column.isin(list(check.bound))
    elif check.kind == "range":
        bound, terms = check.bound, []
        if bound.low is not None:
            terms.append(column >= F.lit(bound.low) if bound.low_inclusive else column > F.lit(bound.low))
        if bound.high is not None:
            terms.append(column <= F.lit(bound.high) if bound.high_inclusive else column < F.lit(bound.high))
        passing = terms[0] if len(terms) == 1 else terms[0] & terms[1]
    elif check.kind == "length":
        low, high = check.bound
        passing = F.length(column) >= low if high is None else F.length(column).between(low, high)
    else:  # pattern
        passing = column.rlike(check.bound)
    return column.isNotNull() & ~passing


def _all_present(columns: tuple[str, ...]) -> Column:
    present = F.col(columns[0]).isNotNull()
    for name in columns[1:]:
        present = present & F.col(name).isNotNull()
    return present


def _metric(rule: MetricRule, column: str | None) -> Column:
    if rule.metric == "rowCount":
        return F.count(F.lit(1))
    col = F.col(column)
    if rule.metric == "nullValues":
        return F.count(F.when(col.isNull(), 1))
    if rule.metric == "missingValues":
        return F.count(F.when(col.isNull() | col.isin(rule.arguments.get("missingValues", [])), 1))
    if rule.metric == "duplicateValues":
        return F.count(col) - F.count_distinct(col)
    invalid = F.lit(False)  # invalidValues: the plan guarantees at least one argument
    if "validValues" in rule.arguments:
        invalid = invalid | ~col.isin(rule.arguments["validValues"])
    if "invalidValues" in rule.arguments:
        invalid = invalid | col.isin(rule.arguments["invalidValues"])
    if "pattern" in rule.arguments:
        invalid = invalid | ~col.cast("string").rlike(rule.arguments["pattern"])
    return F.count(F.when(col.isNotNull() & invalid, 1))


def _measures(plan: CheckPlan, broken: set[str]) -> dict[str, Column]:
    """One aggregate per measurable check (by check name), plus `rows`: all of them in one Spark pass."""
    found = {"__rows": F.count(F.lit(1))}
    for check in plan.checks:
        if broken & set(check.columns) or check.kind in ("schema", "sql"):
            continue
        if check.kind in _ROW_KINDS:
            found[check.name] = F.count(F.when(_failing(check), 1))
        elif check.kind == "unique":  # duplicates among rows whose key is complete; an incomplete key is not_null's
            keys = [F.col(c) for c in check.columns]
            found[check.name] = F.count(F.when(_all_present(check.columns), 1)) - F.count_distinct(*keys)
        elif check.kind == "metric":
            found[check.name] = _metric(check.bound, check.column)
    return found


def _duplicated(columns: tuple[str, ...]) -> Column:
    """True on every row whose complete key occurs more than once (a window count: only on the failure path)."""
    return _all_present(columns) & (F.count(F.lit(1)).over(Window.partitionBy(*columns)) > 1)


def _sql_value(spark: SparkSession, frame: DataFrame, check: Check, plan: CheckPlan) -> object:
    """An SQL rule's one number: the rule's SQL (in its own dialect) in Spark's, over the batch as a private view."""
    rule: SqlRule = check.bound
    query = sqlglot.parse_one(rule.query, read=rule.dialect)
    with temporary_view(frame, prefix="lakemesh_batch") as view:
        for table in query.find_all(exp.Table):
            if table.name.lower() == rule.table.lower():
                table.set("this", exp.to_identifier(view))  # the alias, if any, stays
        try:
            rows = spark.sql(query.sql(dialect="spark")).take(2)
        except Exception as error:
            raise CheckError(f"{plan.product}: SQL rule {check.name!r} failed to run on Spark: {error}") from error
    if len(rows) != 1 or len(rows[0]) != 1:
        raise CheckError(f"{plan.product}: SQL rule {check.name!r} must return one row of one value")
    return rows[0][0]


def _examples(frame: DataFrame, check: Check, failing: Column) -> tuple[str, ...]:
    """A few distinct offending values (or keys), fetched only for a check that failed."""
    picked = frame.filter(failing).select(*check.columns).distinct().limit(_EXAMPLES).collect()
    return tuple(", ".join("null" if v is None else str(v)[:80] for v in row) for row in picked)


def validate_spark(
    frame: DataFrame, contract: Contract, *, existing_keys: DataFrame | None = None, kept_rows: int = 0
) -> SparkVerdict:
    """Every guarantee of the contract's plan on a Spark batch, all failures at once, counted by Spark.

    `existing_keys` (the primary key columns of the table an append goes to)
    extends the primary key's uniqueness to the table, and `kept_rows` a row count, as on polars.
    """
    plan = contract.plan
    spark = frame.sparkSession
    broken, structure = _broken_columns(frame, plan)
    measures = _measures(plan, broken)
    values = frame.agg(*[column.alias(f"m{i}") for i, column in enumerate(measures.values())]).first()
    measured = dict(zip(measures, values, strict=True))
    rows = int(measured.pop("__rows"))
    failures, row_filters = [structure] if structure else [], []
    for check in plan.checks:
        unmeasurable = broken & set(check.columns) or (check.kind == "sql" and broken)
        if check.kind == "schema" or (unmeasurable and check.kind not in ("metric", "sql")):
            continue  # a broken column's row checks: the schema check reports the column
        if unmeasurable:
            reason = "not evaluated: the batch does not match the contract's schema"
            failures.append(CheckFailure(check=check.name, column=check.column, rows=-1, examples=(), reason=reason))
        elif check.kind in ("metric", "sql"):
            value = measured[check.name] if check.kind == "metric" else _sql_value(spark, frame, check, plan)
            if failure := judge_measurement(check, value, rows, plan, kept_rows=kept_rows):
                failures.append(failure)
        elif measured[check.name]:
            if check.kind == "unique":  # a window: Spark filters on it only once it is a column
                marker = f"__lakemesh_duplicate_{len(row_filters)}"
                frame = frame.withColumn(marker, _duplicated(check.columns))
                failing = F.col(marker)
            else:
                failing = _failing(check)
            redacted = plan.sensitive(check)
            count = measured[check.name] if check.kind != "unique" else frame.filter(failing).count()
            failures.append(
                CheckFailure(
                    check=check.name,
                    column=check.column,
                    rows=count,
                    examples=(REDACTED,) if redacted else _examples(frame, check, failing),
                    redacted=redacted,
                )
            )
            row_filters.append(failing)
    if existing_keys is not None and not broken and not any(f.check == "primary_key__unique" for f in failures):
        keys = list(plan.check("primary_key__unique").columns)
        marked = existing_keys.select(*keys).distinct().withColumn("__lakemesh_published", F.lit(True))
        frame = frame.join(marked, on=keys, how="left")  # null-safe enough: keys are never null (not_null checks)
        collision = F.coalesce(F.col("__lakemesh_published"), F.lit(False))
        collisions = frame.filter(collision).count()
        if collisions:
            check = plan.check("primary_key__unique")
            failures.append(
                CheckFailure(
                    check=check.name,
                    column=check.column,
                    rows=collisions,
                    examples=(REDACTED,) if plan.sensitive(check) else _examples(frame, check, collision),
                    redacted=plan.sensitive(check),
                    reason="keys already in the table (an append may not repeat them)",
                )
            )
            row_filters.append(collision)
    order = {check.name: i for i, check in enumerate(plan.checks)}
    failures.sort(key=lambda f: order[f.check])
    report = ValidationReport(contract=contract, rows=rows, failures=tuple(failures), failing_rows=None)
    if report.passed:
        return SparkVerdict(report=report, refused=None)
    whole_batch = any(f.rows < 0 for f in failures)
    if whole_batch:
        refused = frame
    else:
        flagged = frame.withColumn("__lakemesh_refused", _any(row_filters))
        refused = flagged.filter("__lakemesh_refused").drop("__lakemesh_refused")
    markers = [name for name in refused.columns if name.startswith("__lakemesh_")]
    return SparkVerdict(report=report, refused=refused.drop(*markers))


def _any(conditions: list[Column]) -> Column:
    found = conditions[0]
    for condition in conditions[1:]:
        found = found | condition
    return found
