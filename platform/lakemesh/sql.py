"""What a SQL query reads: the tables it names and the calls that read files or other databases.

Contract SQL rules and dbt models share one gate: a query may read only the
relations it was given (the batch, the declared sources), never files, other
databases or anything a table function can reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError
from sqlglot.optimizer.scope import traverse_scope

from lakemesh.errors import first_line

__all__ = ["QueryReads", "query_reads"]

_GENERATORS = (exp.GenerateSeries, exp.Unnest, exp.ExplodingGenerateSeries)
"""Table functions that make rows from their arguments alone: `range(3)`, `generate_series(...)`, `unnest(...)`."""
_FILE_FUNCTIONS = re.compile(r"^(read_|scan_|parquet_|delta_|iceberg_|glob$|sniff_|query_table|query$)", re.I)


@dataclass(frozen=True, kw_only=True)
class QueryReads:
    """One SELECT, the relations it reads (outside its own CTEs) and the calls that reach outside them."""

    query: exp.Query
    relations: tuple[exp.Table, ...]
    outside_calls: tuple[str, ...]
    """Table functions (`read_parquet(...)`, `glob(...)`, `sqlite_scan(...)`) and file-reading scalar calls."""


def query_reads(sql: str, *, dialect: str = "duckdb") -> QueryReads:
    """Parse `sql` (in `dialect`) as exactly one read-only query and list what it reads; ValueError otherwise.

    A name is a CTE only where SQL scoping makes it one (a CTE's own body sees the real table of that name).
    """
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=dialect) if s is not None]
    except ParseError as error:
        raise ValueError(f"not valid SQL: {first_line(error)}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ValueError("must be exactly one SELECT")
    tree = statements[0]
    relations, calls = [], []
    try:
        scopes = list(traverse_scope(tree))
    except (OptimizeError, ValueError) as error:
        raise ValueError(f"could not be analysed: {first_line(error)}") from None
    for scope in scopes:
        for node in scope.tables:
            if not isinstance(node.this, exp.Identifier):
                if not isinstance(node.this, _GENERATORS):
                    calls.append(node.this.sql(dialect=dialect))
            elif node.args.get("db") or node.args.get("catalog") or node.name not in scope.cte_sources:
                relations.append(node)
    for call in tree.find_all(exp.Anonymous, exp.Func):
        name = call.name if isinstance(call, exp.Anonymous) else call.sql_name()
        if _FILE_FUNCTIONS.match(name or "") and call.sql(dialect=dialect) not in calls:
            calls.append(call.sql(dialect=dialect))
    return QueryReads(query=tree, relations=tuple(relations), outside_calls=tuple(calls))
