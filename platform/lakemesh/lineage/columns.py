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

from lakemesh.lineage.events import ColumnInput, InputRef

__all__ = ["declared_column_lineage", "sql_column_lineage"]

log = logging.getLogger(__name__)


def _subtype(node: Node) -> str:
    """IDENTITY when every step only passes the column on, AGGREGATION when any step aggregates."""
    steps = [n.expression for n in node.walk()]
    if any(step.find(exp.AggFunc) for step in steps):
        return "AGGREGATION"
    passes_on = all(isinstance(step.unalias(), exp.Column | exp.Table) for step in steps)
    return "IDENTITY" if passes_on else "TRANSFORMATION"


def sql_column_lineage(
    sql: str,
    *,
    relations: Mapping[tuple[str, str], tuple[InputRef, Mapping[str, str]]],
    dialect: str = "duckdb",
) -> dict[str, list[ColumnInput]]:
    """Per output column of a SELECT, the input columns it reads.

    `relations` maps each `(schema, table)` the SQL reads to its dataset and its
    columns with their types; sqlglot resolves every output column through
    joins, CTEs and subqueries down to those tables. A column sqlglot cannot
    resolve is left out and logged.
    """
    query = sqlglot.parse_one(sql, dialect=dialect)
    schema: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for table in query.find_all(exp.Table):
        key = (table.db.lower(), table.name.lower())
        if key in relations:
            schema.setdefault(table.catalog, {}).setdefault(table.db, {})[table.name] = dict(relations[key][1])
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
