"""The check plan on polars: pandera's polars backend for columns and rows, one pass for table metrics.

Row-level guarantees (types, nulls, allowed values, ranges, lengths, patterns,
uniqueness) run as one lazy pandera validation, so every failure is reported at
once. Table metrics are measured in one polars `select`, and SQL rules on one
DuckDB connection over the batch registered once (no copy per rule, no file or
network access). A check that raises is a `CheckError`, never a data failure.
Uniqueness costs one linear pass for data in key order or one hash count, and
searches for the duplicate rows only when those say something is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pandera.polars as pa
import polars as pl
import pyarrow as pa_arrow
from pandera.api.polars.types import PolarsData
from pandera.errors import SchemaErrorReason

from lakemesh.contracts import SCHEMA_CHECK, Check, CheckPlan, ColumnType, Contract
from lakemesh.contracts.plan import MetricRule, Range
from lakemesh.errors import CheckError
from lakemesh.quality.report import REDACTED, CheckFailure, ValidationReport, judge_measurement

__all__ = ["as_polars", "compile_schema", "polars_dtype", "validate"]

_EXAMPLES = 5
_STRUCTURAL = ("column_in_schema", "column_in_dataframe")
_SIMPLE: dict[str, pl.DataType] = {
    "int8": pl.Int8(),
    "int16": pl.Int16(),
    "int32": pl.Int32(),
    "int64": pl.Int64(),
    "float32": pl.Float32(),
    "float64": pl.Float64(),
    "string": pl.String(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "timestamptz": pl.Datetime("us", "UTC"),
    "boolean": pl.Boolean(),
}


def polars_dtype(kind: ColumnType) -> pl.DataType:
    """The polars type of a neutral column type."""
    if kind.kind == "decimal":
        return pl.Decimal(kind.precision, kind.scale)
    return _SIMPLE[kind.kind]


def as_polars(data: Any, plan: CheckPlan) -> pl.DataFrame:
    """What producers return (polars, Arrow, pandas) as one polars frame, with timestamps in UTC.

    pandas columns are cast to their contract types where no value changes.
    A `timestamp` column holds UTC wall-clock time without a zone and a
    `timestamptz` column UTC with the zone, whatever the host's time zone or the
    zone the producer's data came in (DuckDB hands TIMESTAMPTZ over in the
    session's zone): zoned values are converted to UTC, zone-less ones are
    taken as UTC already.
    """
    if isinstance(data, pl.LazyFrame):
        frame = data.collect()
    elif isinstance(data, pl.DataFrame):
        frame = data
    elif isinstance(data, pa_arrow.Table | pa_arrow.RecordBatch | pa_arrow.RecordBatchReader):
        frame = pl.from_arrow(data.read_all() if isinstance(data, pa_arrow.RecordBatchReader) else data)
    elif type(data).__module__.startswith("pandas"):
        frame = _lossless_casts(pl.from_pandas(data), plan)
    else:
        raise TypeError(
            f"a product is a polars, Arrow or pandas DataFrame; the producer returned {type(data).__name__}"
        )
    fixes = []
    for spec in plan.columns:
        dtype = frame.schema.get(spec.name)
        if not isinstance(dtype, pl.Datetime) or spec.type.kind not in ("timestamp", "timestamptz"):
            continue
        column = pl.col(spec.name)
        utc = column.dt.convert_time_zone("UTC") if dtype.time_zone else column.dt.replace_time_zone("UTC")
        fixes.append(
            (utc if spec.type.kind == "timestamptz" else utc.dt.replace_time_zone(None)).dt.cast_time_unit("us")
        )
    return frame.with_columns(fixes) if fixes else frame


def _lossless_casts(frame: pl.DataFrame, plan: CheckPlan) -> pl.DataFrame:
    """pandas has no date or decimal type: cast a column to its contract type where that loses nothing."""
    fixed = []
    for spec in plan.columns:
        current, target = frame.schema.get(spec.name), polars_dtype(spec.type)
        if current is None or current == target:
            continue
        try:
            cast = frame[spec.name].cast(target, strict=True)
        except pl.exceptions.PolarsError:
            continue
        if cast.cast(current).equals(frame[spec.name]):
            fixed.append(cast)
    return frame.with_columns(fixed) if fixed else frame


def _strictly_ascending(columns: list[str]) -> pl.Expr:
    """True when every row's key is greater than the previous row's: data written in key order."""
    later: pl.Expr | None = None
    for name in reversed(columns):
        col, previous = pl.col(name), pl.col(name).shift(1)
        later = col > previous if later is None else (col > previous) | ((col == previous) & later)
    return later.slice(1).fill_null(False).all()


def _unique_rows(columns: list[str]) -> Callable[[PolarsData], pl.LazyFrame]:
    def check(data: PolarsData) -> pl.LazyFrame:
        frame = data.lazyframe
        key = pl.col(columns[0]) if len(columns) == 1 else pl.struct(columns).hash()
        if frame.select(_strictly_ascending(columns)).collect().item():
            return frame.select(pl.lit(True))
        distinct, rows = frame.select(key.n_unique(), pl.len()).collect().row(0)
        if distinct == rows:
            return frame.select(pl.lit(True))
        exact = pl.struct(columns).is_unique() if len(columns) > 1 else pl.col(columns[0]).is_unique()
        any_null = pl.any_horizontal([pl.col(c).is_null() for c in columns])
        return frame.select(exact | any_null)

    return check


def _range_expr(column: pl.Expr, bound: Range) -> pl.Expr:
    terms = []
    if bound.low is not None:
        terms.append(column >= bound.low if bound.low_inclusive else column > bound.low)
    if bound.high is not None:
        terms.append(column <= bound.high if bound.high_inclusive else column < bound.high)
    return pl.all_horizontal(terms)


def _row_expr(check: Check) -> pl.Expr:
    column = pl.col(check.columns[0])
    if check.kind == "finite":
        return column.is_finite()
    if check.kind == "allowed_values":
        return column.is_in(list(check.bound))
    if check.kind == "range":
        return _range_expr(column, check.bound)
    if check.kind == "length":
        low, high = check.bound
        return column.str.len_chars().is_between(low, high if high is not None else 2**63 - 1)
    return column.str.contains(check.bound)  # pattern


def _row_check(check: Check) -> pa.Check:
    """A row-level check from a polars expression; nulls pass (they are `not_null`'s business)."""
    expr = _row_expr(check) | pl.col(check.columns[0]).is_null()
    return pa.Check(lambda data: data.lazyframe.select(expr), name=check.name, error=check.name)


def compile_schema(plan: CheckPlan) -> pa.DataFrameSchema:
    """The pandera (polars) schema of a plan's column and row guarantees."""
    row_checks: dict[str, list[pa.Check]] = {spec.name: [] for spec in plan.columns}
    frame_checks = []
    for check in plan.checks:
        if check.kind in ("finite", "allowed_values", "range", "length", "pattern"):
            row_checks[check.columns[0]].append(_row_check(check))
        elif check.kind == "unique":
            frame_checks.append(pa.Check(_unique_rows(list(check.columns)), name=check.name, error=check.name))
    columns = {
        spec.name: pa.Column(polars_dtype(spec.type), nullable=spec.nullable, checks=row_checks[spec.name])
        for spec in plan.columns
    }
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=True, ordered=False, name=plan.product)


def _metric_expr(rule: MetricRule, column: str | None) -> pl.Expr:
    if rule.metric == "rowCount":
        return pl.len()
    col = pl.col(column)
    if rule.metric == "nullValues":
        return col.null_count()
    if rule.metric == "missingValues":
        return (col.is_null() | col.is_in(rule.arguments.get("missingValues", []))).sum()
    if rule.metric == "duplicateValues":
        return col.drop_nulls().len() - col.drop_nulls().n_unique()
    invalid = pl.lit(False)  # invalidValues: the plan guarantees at least one argument
    if "validValues" in rule.arguments:
        invalid = invalid | ~col.is_in(rule.arguments["validValues"])
    if "invalidValues" in rule.arguments:
        invalid = invalid | col.is_in(rule.arguments["invalidValues"])
    if "pattern" in rule.arguments:
        invalid = invalid | ~col.cast(pl.String).str.contains(rule.arguments["pattern"])
    return (invalid & col.is_not_null()).sum()


def _table_failures(frame: pl.DataFrame, plan: CheckPlan, broken: set[str], *, kept_rows: int) -> list[CheckFailure]:
    """Table metrics in one select and SQL rules on one DuckDB connection; `broken` columns cannot be measured,
    and a row count counts the `kept_rows` the commit keeps too."""
    failures, metrics, queries = [], [], []
    for check in plan.checks:
        if check.kind not in ("metric", "sql"):
            continue
        unmeasurable = broken & set(check.columns) or (check.kind == "sql" and broken)
        if unmeasurable:
            reason = "not evaluated: the batch does not match the contract's schema"
            failures.append(CheckFailure(check=check.name, column=check.column, rows=-1, examples=(), reason=reason))
        else:
            (metrics if check.kind == "metric" else queries).append(check)
    if metrics:
        try:
            values = frame.select([_metric_expr(c.bound, c.column).alias(str(i)) for i, c in enumerate(metrics)]).row(0)
        except pl.exceptions.PolarsError as error:
            raise CheckError(f"{plan.product}: table metrics could not be measured: {error}") from error
        measured = zip(metrics, values, strict=True)
        failures += [f for c, v in measured if (f := judge_measurement(c, v, frame.height, plan, kept_rows=kept_rows))]
    if queries:
        with duckdb.connect(config={"enable_external_access": False}) as con:
            con.execute("SET TimeZone = 'UTC'")
            con.register(queries[0].bound.table, frame.to_arrow())
            for check in queries:
                try:
                    result = con.execute(check.bound.in_dialect("duckdb")).fetchall()
                except duckdb.Error as error:
                    raise CheckError(f"{plan.product}: SQL rule {check.name!r} failed to run: {error}") from error
                if len(result) != 1 or len(result[0]) != 1:
                    raise CheckError(f"{plan.product}: SQL rule {check.name!r} must return one row of one value")
                if failure := judge_measurement(check, result[0][0], frame.height, plan):
                    failures.append(failure)
    return failures


def _key_examples(frame: pl.DataFrame, indices: pl.Series, columns: tuple[str, ...]) -> tuple[str, ...]:
    """A few duplicated keys, by their key columns only: pandera's failure cases are whole rows, classified
    columns included."""
    keys = frame[indices.unique().sort()].select(columns).unique(maintain_order=True).head(_EXAMPLES)
    return tuple(", ".join("null" if v is None else str(v)[:80] for v in row) for row in keys.rows())


def _row_failures(
    errors: pa.errors.SchemaErrors, plan: CheckPlan, frame: pl.DataFrame
) -> tuple[list[CheckFailure], pl.Series | None, set[str]]:
    """One `CheckFailure` per plan check from pandera's failure cases; also the columns with broken structure."""
    cases = errors.failure_cases
    presence, dtype = pl.col("check").is_in(_STRUCTURAL), pl.col("check").str.starts_with("dtype(")
    structural = presence | dtype
    broken = {*cases.filter(presence)["failure_case"], *cases.filter(dtype)["column"]}
    unevaluated = set()
    for error in errors.schema_errors:
        if error.reason_code == SchemaErrorReason.CHECK_ERROR:
            check = plan.check(getattr(error.check, "name", str(error.check)))
            if not broken & set(check.columns):
                raise CheckError(f"{plan.product}: check {check.name!r} could not be evaluated: {error}") from error
            unevaluated.add(check.name)  # a column of the wrong type or missing: the schema check reports it
    cases = cases.filter(~pl.col("check").is_in(list(unevaluated)))
    keyed = cases.with_columns(
        name=pl.when(structural)
        .then(pl.lit(SCHEMA_CHECK))
        .when(pl.col("check") == "not_nullable")
        .then(pl.col("column") + "__not_null")
        .otherwise(pl.col("check"))
    )
    failures = []
    for (name,), group in keyed.group_by("name", maintain_order=True):
        check = plan.check(name)
        indices = group["index"].drop_nulls()
        whole_batch = check.batch_level or indices.len() < group.height
        redacted = check.kind != "schema" and plan.sensitive(check)
        if check.kind == "unique" and indices.len():
            examples = list(_key_examples(frame, indices, check.columns))
        else:
            examples = group["failure_case"].unique(maintain_order=True).head(_EXAMPLES).to_list()
        failures.append(
            CheckFailure(
                check=name,
                column=check.column if check.kind != "schema" else ", ".join(sorted(broken)),
                rows=-1 if whole_batch else indices.n_unique(),
                examples=(REDACTED,) if redacted else tuple("null" if e is None else str(e)[:80] for e in examples),
                redacted=redacted,
            )
        )
    whole = any(f.rows < 0 for f in failures)
    rows = None if whole else cases["index"].drop_nulls().unique().sort()
    return failures, rows, broken


def _key_collisions(frame: pl.DataFrame, existing: pl.LazyFrame, plan: CheckPlan) -> tuple[CheckFailure, pl.Series]:
    """Rows of an append whose primary key is already in the table: appending them would duplicate keys."""
    check = plan.check("primary_key__unique")
    keys = list(check.columns)
    low, high = frame.select(low=pl.col(keys[0]).min(), high=pl.col(keys[0]).max()).row(0)
    # only the table's rows inside the batch's range of the first key: file and row-group statistics skip the rest
    in_range = pl.col(keys[0]).is_between(pl.lit(low), pl.lit(high))  # literals: a string bound is no column name
    candidates = existing.filter(in_range) if low is not None else existing.head(0)
    positions = (
        frame.lazy()
        .select(keys)
        .with_row_index("_row")
        .join(candidates.unique(), on=keys, how="semi", nulls_equal=False)
        .collect()
    )
    examples = (
        ()
        if plan.sensitive(check)
        else tuple(", ".join(str(v) for v in row) for row in positions.select(keys).head(_EXAMPLES).rows())
    )
    failure = CheckFailure(
        check=check.name,
        column=check.column,
        rows=positions.height,
        examples=(REDACTED,) if plan.sensitive(check) else examples,
        redacted=plan.sensitive(check),
        reason="keys already in the table (an append may not repeat them)",
    )
    return failure, positions["_row"].cast(pl.Int32)


def validate(
    frame: pl.DataFrame,
    contract: Contract,
    *,
    existing_keys: pl.LazyFrame | None = None,
    kept_rows: int = 0,
    schema: pa.DataFrameSchema | None = None,
) -> ValidationReport:
    """Every guarantee of the contract's plan on one batch, all failures at once.

    `existing_keys` (the primary key columns of the table an append goes to)
    extends the primary key's uniqueness to the table: a batch repeating a key
    already published is refused. `kept_rows` are the table's rows the commit
    keeps beside the batch (a partition's publish keeps the other partitions):
    a `rowCount` judges the table as it will be.
    """
    plan = contract.plan
    try:
        (schema or compile_schema(plan)).validate(frame, lazy=True)
        failures, rows, broken = [], None, set()
    except pa.errors.SchemaErrors as errors:
        failures, rows, broken = _row_failures(errors, plan, frame)
    if existing_keys is not None and not broken and not any(f.check == "primary_key__unique" for f in failures):
        collision, positions = _key_collisions(frame, existing_keys, plan)
        if collision.rows:
            failures.append(collision)
            rows = positions if rows is None else pl.concat([rows, positions]).unique().sort()
    table = _table_failures(frame, plan, broken, kept_rows=kept_rows)
    order = {check.name: i for i, check in enumerate(plan.checks)}
    failures = sorted([*failures, *table], key=lambda f: order[f.check])
    return ValidationReport(
        contract=contract,
        rows=frame.height,
        failures=tuple(failures),
        failing_rows=None if table or any(f.rows < 0 for f in failures) else rows,
    )
