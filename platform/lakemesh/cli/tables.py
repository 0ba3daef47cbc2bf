"""Tables that fit the terminal, and the same rows as JSON for scripts (`--json`).

rich shrinks every column in proportion when a table is too wide, so at 80
columns it cut product names and row counts (`supply.supp…`, `6,001,…`). Here
names and numbers are never cut: they keep their full width, the columns that
matter least are left out first, and one column (checks, metrics) wraps at
words in the width that is left.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import typer
from rich import box
from rich.table import Table

from lakemesh.cli.console import console

__all__ = ["JSON_OPTION", "Column", "fitted_table", "print_json", "print_rows"]

JSON_OPTION = typer.Option("--json", help="print JSON on stdout, for scripts")
"""The `--json` option every command that prints a table or tree takes."""

_GAP = 2
"""Spaces between two columns of the tables below."""
_NARROWEST_WRAP = 28
"""The width the wrapping column needs at least (or its longest word) before other columns give way: a reason
wraps over a few lines, not one word a line."""


@dataclass(frozen=True)
class Column:
    """One column: `drop` > 0 marks it optional (the highest goes first); `wraps` gives it the width left."""

    header: str
    key: str
    """Its field in `--json` output."""
    justify: Literal["left", "right"] = "left"
    drop: int = 0
    wraps: bool = False


def fitted_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], *, width: int, title: str | None = None
) -> Table:
    """`rows` under `columns`, in `width` characters: optional columns dropped until the rest fits, whole."""
    natural = [max([len(c.header), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]
    # a wrapping column needs its longest word whole, and some room besides
    narrowest = [
        min(natural[i], max([_NARROWEST_WRAP, *(len(word) for row in rows for word in row[i].split())]))
        for i in range(len(columns))
    ]
    shown = list(range(len(columns)))

    def needed() -> int:
        return sum(narrowest[i] if columns[i].wraps else natural[i] for i in shown) + _GAP * (len(shown) - 1)

    dropped = []
    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop):
        if needed() <= width:
            break
        shown.remove(i)
        dropped.append(i)
    for i in dropped[:-1]:  # one left out early may fit beside what is left, once a wider one went too
        shown = sorted([*shown, i])
        if needed() > width:
            shown.remove(i)
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)
    for i in shown:
        column = columns[i]
        if column.wraps:
            table.add_column(column.header, justify=column.justify, overflow="fold")
        else:
            table.add_column(column.header, justify=column.justify, no_wrap=True, min_width=natural[i])
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def print_rows(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    records: Sequence[dict[str, Any]] | None = None,
    as_json: bool,
    title: str | None = None,
) -> None:
    """Print a fitted table, or with `as_json` the rows as a JSON array of objects keyed by each column's `key`
    (`records`, when given, are printed instead: raw values rather than the table's formatted text)."""
    if as_json:
        keys = [c.key for c in columns]
        print_json(list(records if records is not None else [dict(zip(keys, row, strict=True)) for row in rows]))
        return
    console.print(fitted_table(columns, rows, width=console.width, title=title))


def print_json(value: Any) -> None:
    """`value` as indented JSON on stdout, dataclasses as objects and times as ISO strings."""
    sys.stdout.write(json.dumps(value, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
