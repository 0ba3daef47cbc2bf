"""Column-level lineage: derived from a dbt model's compiled SQL, or declared by a Python producer.

Either way the result is, per output column, the input columns it is computed
from and how (identity, transformation, aggregation), which the publish path
sends as the OpenLineage column-lineage facet.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from lakemesh.lineage.events import ColumnInput, InputRef

__all__ = [
    "INDIRECT_SUBTYPES",
    "declared_column_lineage",
    "declared_dataset_lineage",
    "sql_column_lineage",
    "sql_dataset_lineage",
]

log = logging.getLogger(__name__)


def _subtype(node: Node) -> str:
    """IDENTITY when every step only passes the column on, AGGREGATION when any step aggregates."""
    steps = [n.expression for n in node.walk()]
    if any(step.find(exp.AggFunc) for step in steps):
        return "AGGREGATION"
    passes_on = all(isinstance(step.unalias(), exp.Column | exp.Table) for step in steps)
    return "IDENTITY" if passes_on else "TRANSFORMATION"


Relations = Mapping[tuple[str, str], tuple[InputRef, Mapping[str, str]]]
"""Each `(schema, table)` a query reads: its dataset, and its columns with their types."""


def _schema(query: exp.Expression, relations: Relations) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    schema: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for table in query.find_all(exp.Table):
        key = (table.db.lower(), table.name.lower())
        if key in relations:
            schema.setdefault(table.catalog, {}).setdefault(table.db, {})[table.name] = dict(relations[key][1])
    return schema


def sql_column_lineage(sql: str, *, relations: Relations, dialect: str = "duckdb") -> dict[str, list[ColumnInput]]:
    """Per output column of a SELECT, the input columns it reads.

    `relations` maps each `(schema, table)` the SQL reads to its dataset and its
    columns with their types; sqlglot resolves every output column through
    joins, CTEs and subqueries down to those tables. A column sqlglot cannot
    resolve is left out and logged.
    """
    query = sqlglot.parse_one(sql, dialect=dialect)
    schema = _schema(query, relations)
    result: dict[str, list[ColumnInput]] = {}
    for select in query.selects:
        column = select.alias_or_name
        try:
            node = lineage(column, query, schema=schema or None, dialect=dialect)
        except SqlglotError as error:
            log.warning("no column lineage for %s: %s", column, error)
            continue
        subtype = _subtype(node)
        inputs = {}
        for leaf in node.walk():
            if leaf.downstream or not isinstance(leaf.source, exp.Table):
                continue
            key = (leaf.source.db.lower(), leaf.source.name.lower())
            if key in relations:
                field = leaf.name.rsplit(".", 1)[-1]
                inputs[(key, field)] = ColumnInput(dataset=relations[key][0], field=field, subtype=subtype)
        result[column] = [inputs[k] for k in sorted(inputs)]
    return result


def _clauses(select: exp.Select) -> list[tuple[str, exp.Expression | None]]:
    """The parts of a SELECT that decide which rows there are and how they are ordered, by OpenLineage subtype."""
    windows = list(select.find_all(exp.Window))
    return [
        *(("JOIN", join.args.get("on")) for join in select.args.get("joins") or []),
        *(("FILTER", select.args.get(part)) for part in ("where", "having", "qualify")),
        ("GROUP_BY", select.args.get("group")),
        ("SORT", select.args.get("order")),
        *(("WINDOW", node) for w in windows for node in [*(w.args.get("partition_by") or []), w.args.get("order")]),
    ]


def sql_dataset_lineage(sql: str, *, relations: Relations, dialect: str = "duckdb") -> list[ColumnInput]:
    """The input columns a SELECT reads without projecting them: join keys, filters, grouping, sort, windows.

    They shape every output row, so OpenLineage records them as INDIRECT
    lineage of the dataset as a whole (subtypes JOIN, FILTER, GROUP_BY, SORT,
    WINDOW). Columns of CTEs and subqueries are followed to the tables they
    come from where they are plain columns; what cannot be resolved is logged.
    """
    query = sqlglot.parse_one(sql, dialect=dialect)
    try:
        qualified = qualify(query, schema=_schema(query, relations) or None, dialect=dialect)
        scopes = list(traverse_scope(qualified))
    except SqlglotError as error:
        log.warning("no indirect lineage: %s", error)
        return []
    found: dict[tuple[tuple[str, str], str, str], ColumnInput] = {}
    for scope in scopes:
        if not isinstance(scope.expression, exp.Select):
            continue
        for subtype, clause in _clauses(scope.expression):
            for column in clause.find_all(exp.Column) if clause is not None else ():
                origin = _origin(scope, column.table, column.name)
                if origin is None:
                    continue
                table, field = origin
                key = (table.db.lower(), table.name.lower())
                if key in relations:
                    found[(key, field, subtype)] = ColumnInput(
                        dataset=relations[key][0], field=field, type="INDIRECT", subtype=subtype
                    )
    return [found[k] for k in sorted(found)]


def _origin(scope: Scope, source_name: str, column: str) -> tuple[exp.Table, str] | None:
    """The table and column a scope's column comes from, through CTEs and subqueries that pass it on as is."""
    source = scope.sources.get(source_name)
    if isinstance(source, exp.Table):
        return source, column
    if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
        for projection in source.expression.selects:
            inner = projection.unalias()
            if projection.alias_or_name == column and isinstance(inner, exp.Column):
                return _origin(source, inner.table, inner.name)
    return None  # computed, or from a set operation: its own scope's clauses name their tables


def declared_column_lineage(
    declared: Mapping[str, str | Sequence[str]], *, inputs: Mapping[str, InputRef]
) -> dict[str, list[ColumnInput]]:
    """Resolve a producer's `{"out_column": "param.in_column" | [...]}` against the datasets it read."""
    result = {}
    for column, sources in declared.items():
        refs = [sources] if isinstance(sources, str) else list(sources)
        result[column] = [
            ColumnInput(dataset=inputs[param], field=field, subtype=None, description="declared by the producer")
            for param, _, field in (ref.partition(".") for ref in refs)
        ]
    return result


INDIRECT_SUBTYPES = ("JOIN", "FILTER", "GROUP_BY", "SORT", "WINDOW", "CONDITIONAL")
"""How a column shapes a dataset without being projected (OpenLineage INDIRECT transformation subtypes)."""


def declared_dataset_lineage(
    declared: Mapping[str, str | Sequence[str]], *, inputs: Mapping[str, InputRef]
) -> list[ColumnInput]:
    """Resolve a producer's `{"JOIN": "param.in_column" | [...], "FILTER": ...}` into INDIRECT inputs."""
    return [
        ColumnInput(
            dataset=inputs[param], field=field, type="INDIRECT", subtype=subtype, description="declared by the producer"
        )
        for subtype, sources in declared.items()
        for param, _, field in (ref.partition(".") for ref in ([sources] if isinstance(sources, str) else sources))
    ]
