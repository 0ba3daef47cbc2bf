"""Tables that fit the terminal, and the same rows as JSON for scripts (`--json`).

rich shrinks every column in proportion when a table is too wide, so at 80
columns it cut product names and row counts (`supply.supp…`, `6,001,…`). Here
names and numbers are never cut: they keep their full width, the columns that
matter least are left out first, and one column (checks, metrics) wraps at
words in the width that is left.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from lakemesh.cli.console import console

__all__ = ["JSON_OPTION", "Cell", "Column", "fitted_table", "print_json", "print_rows"]

JSON_OPTION = typer.Option("--json", help="print JSON on stdout, for scripts")
"""The `--json` option every command that prints a table or tree takes."""

_GAP = 2
"""Spaces between two columns of the tables below."""
_NARROWEST_WRAP = 28
"""The width the wrapping column needs at least (or its longest word) before other columns give way: a reason
wraps over a few lines, not one word a line."""
_NARROWEST_WRAP_AT_ALL = 16
"""Narrower than this (with every optional column gone), the rows become blocks instead of a table."""


@dataclass(frozen=True)
class Column:
    """One column: `drop` > 0 marks it optional (the highest goes first); `wraps` gives it the width left."""

    header: str
    key: str
    """Its field in `--json` output."""
    justify: Literal["left", "right"] = "left"
    drop: int = 0
    wraps: bool = False


Cell = str | Text
"""A table cell: a string is shown as it is (never read as rich markup); a `Text` carries its own style."""


def fitted_table(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, width: int, title: str | None = None
) -> RenderableType:
    """`rows` under `columns`, in `width` characters: optional columns dropped until the rest fits, whole; when
    even the required ones do not fit, one block per row (its first cell, then a `header  value` line each)."""
    cells = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    natural = [max([len(c.header), *(len(row[i].plain) for row in cells)]) for i, c in enumerate(columns)]
    words = [[len(word) for row in cells for word in row[i].plain.split()] for i in range(len(columns))]
    longest_word = [max(lengths, default=0) for lengths in words]
    shown = list(range(len(columns)))

    def needed(wrap: int = _NARROWEST_WRAP) -> int:
        """The width of the columns shown, a wrapping one at `wrap` (or its longest word, or its natural width)."""
        return sum(
            min(natural[i], max(wrap, longest_word[i])) if columns[i].wraps else natural[i] for i in shown
        ) + _GAP * (len(shown) - 1)

    dropped = []
    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop):
        if needed() <= width:
            break
        shown.remove(i)
        dropped.append(i)
    if needed(wrap=_NARROWEST_WRAP_AT_ALL) > width:
        return _blocks(columns, cells, title=title)
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
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    return table


def _blocks(columns: Sequence[Column], cells: Sequence[Sequence[Text]], *, title: str | None) -> Group:
    """Rows too wide for any table in the width: each row's first cell on a line, the others under it, every
    column kept (values wrap between words)."""
    parts: list[RenderableType] = [Text(title, style="italic")] if title else []
    for row in cells:
        details = Table.grid(padding=(0, 2))
        details.add_column(no_wrap=True, style="dim")
        details.add_column(overflow="fold")
        for column, cell in zip(columns[1:], row[1:], strict=True):
            details.add_row(column.header, cell)
        parts += [Text.assemble(row[0], style="bold"), Padding(details, (0, 0, 0, 2), expand=False)]
    return Group(*parts)


def print_rows(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
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
    """`value` as indented JSON on stdout: dataclasses as objects, times as ISO strings, durations in seconds,
    decimals as strings (their exact digits), bytes in base64, NaN and infinities as null (JSON has neither)."""
    sys.stdout.write(json.dumps(_jsonable(value), indent=2, allow_nan=False) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Text):
        return value.plain
    return str(value)
