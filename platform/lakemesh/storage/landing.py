"""The landing zone: raw files that products declare as inputs, read with clear errors.

A landing table is one Parquet file, `<landing>/<table>.parquet` (a snapshot),
or a folder of one file per day, `<landing>/<table>/<YYYY-MM-DD>.parquet`, for
data that arrives by the day; a day's file holds that day's rows and is
replaced whole when the day is corrected. The platform knows landing tables
only by the names producers declare; what fills the landing zone (the
sample's TPC-H generator, an ingestion tool) is not its business.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from lakemesh.errors import LandingDataBad

__all__ = [
    "by_day_tables",
    "checked_landing_file",
    "landing_columns",
    "landing_days",
    "landing_generator",
    "landing_is_empty",
    "landing_path",
    "last_landed_day",
    "read_landing",
]


_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.parquet")


def landing_path(landing: Path, table: str) -> Path:
    """The table's folder of days when it arrives by the day, else `<landing>/<table>.parquet`.

    A table is a plain name, so no declaration reaches outside the landing zone.
    """
    if not _TABLE_NAME.fullmatch(table):
        raise LandingDataBad(landing / str(table), "a landing table is a plain name (letters, digits, _), not a path")
    folder = landing / table
    return folder if folder.is_dir() else landing / f"{table}.parquet"


def landing_is_empty(landing: Path) -> bool:
    """No landing table at all (hidden entries, such as a generator's own files, do not count)."""
    return not landing.is_dir() or not any(not entry.name.startswith(("_", ".")) for entry in landing.iterdir())


def landing_days(landing: Path, table: str) -> list[date] | None:
    """The days a table that arrives by the day has landed, oldest first; None for a table that is one file."""
    folder = landing_path(landing, table)
    if not folder.is_dir():
        return None
    found = (_DAY_FILE.fullmatch(entry.name) for entry in folder.iterdir())
    return sorted(date.fromisoformat(match[1]) for match in found if match)


def by_day_tables(landing: Path) -> list[str]:
    """The landing tables that arrive by the day (a folder of days each), by name."""
    if not landing.is_dir():
        return []
    return sorted(e.name for e in landing.iterdir() if e.is_dir() and _TABLE_NAME.fullmatch(e.name))


def last_landed_day(landing: Path) -> date | None:
    """The newest day any table that arrives by the day has landed; None when none has landed a day."""
    tables = by_day_tables(landing)
    return max((days[-1] for table in tables if (days := landing_days(landing, table))), default=None)


def _day_files(landing: Path, table: str, days: tuple[date, date] | None) -> list[Path]:
    """The files of a table's days in `[first, end)` up to the newest landed (every landed day without `days`); a
    day without one, or with one that has no rows, is refused: its partition would be published empty."""
    folder = landing_path(landing, table)
    landed = landing_days(landing, table) or []
    if days is None:
        if not landed:
            raise LandingDataBad(
                folder, "no day has landed yet (fill the landing zone first, e.g. `lakemesh generate`)"
            )
        wanted: Sequence[date] = landed
    else:  # from the first landed day up to the newest: a month is read while its days are still arriving
        asked, end = days
        first = max(asked, landed[0]) if landed else asked
        end = min(end, landed[-1] + timedelta(days=1)) if landed else end
        wanted = [first + timedelta(days=n) for n in range((end - first).days)]
        if not wanted:
            landed_days = f"the days landed are {landed[0]} to {landed[-1]}" if landed else "no day has landed"
            raise LandingDataBad(folder, f"no data for {asked}: {landed_days}")
        missing = sorted(set(wanted) - set(landed))
        if missing:
            more = f" (and {len(missing) - 1} more days up to {missing[-1]})" if len(missing) > 1 else ""
            raise LandingDataBad(folder, f"no data for {missing[0]}{more}: no file {missing[0]}.parquet")
    paths = [folder / f"{day.isoformat()}.parquet" for day in wanted]
    for day, path in zip(wanted, paths, strict=True):
        if _footer(path).num_rows == 0:
            raise LandingDataBad(folder, f"no data for {day}: {path.name} has no rows")
    return paths


def _footer(path: Path) -> pq.FileMetaData:
    try:
        return pq.read_metadata(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise LandingDataBad(path, f"not a readable Parquet file: {exc}") from None


def checked_landing_file(landing: Path, table: str) -> Path:
    """A table's landing file (or folder of days), if it exists and its (newest day's) Parquet footer reads."""
    path = landing_path(landing, table)
    if path.is_dir():
        days = landing_days(landing, table)
        if not days:
            raise LandingDataBad(path, "no day has landed yet (fill the landing zone first, e.g. `lakemesh generate`)")
        _footer(path / f"{days[-1].isoformat()}.parquet")
        return path
    if not path.is_file():
        raise LandingDataBad(path, "file not found (fill the landing zone first, e.g. `lakemesh generate`)")
    _footer(path)
    return path


def landing_columns(landing: Path, table: str) -> dict[str, str]:
    """A landing table's columns and Arrow types, from a Parquet footer alone (the newest day's, by the day)."""
    path = checked_landing_file(landing, table)
    if path.is_dir():
        path = path / f"{landing_days(landing, table)[-1].isoformat()}.parquet"  # type: ignore[index]
    return {f.name: str(f.type) for f in pq.read_schema(path)}


def read_landing(landing: Path, table: str, *, days: tuple[date, date] | None = None) -> pl.DataFrame:
    """Read one landing table (of a table that arrives by the day: the days in `[first, end)`, or every one),
    failing with the path and the reason when it cannot be read, or a day in `days` has no data."""
    path = checked_landing_file(landing, table)
    paths = _day_files(landing, table, days) if path.is_dir() else [path]
    try:
        return pl.read_parquet(paths) if paths else pl.DataFrame()
    except Exception as exc:  # a footer can be intact while data pages are not
        bad = next((p for p in paths if _unreadable(p)), path)
        raise LandingDataBad(bad, f"not a readable Parquet file: {exc}") from None


def _unreadable(path: Path) -> bool:
    try:
        pq.read_table(path)
    except Exception:  # pyarrow raises several kinds for a damaged file
        return True
    return False


def landing_generator(project_dir: Path) -> Callable[..., list[Path]]:
    """The project's own filler of the landing zone: `[tool.lakemesh] landing-generator = "module:function"`.

    It is called as `function(landing_dir, scale_factor=..., until=..., force=...)`: `until` (a `date` or None
    for everything) is the last day of the data that arrives by the day to land.
    """
    pyproject = project_dir / "pyproject.toml"
    target = tomllib.loads(pyproject.read_text()).get("tool", {}).get("lakemesh", {}).get("landing-generator")
    module, _, name = (target or "").partition(":")
    if not module or not name:
        raise LandingDataBad(
            pyproject, "no landing generator: set [tool.lakemesh] landing-generator = 'module:function'"
        )
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    return getattr(importlib.import_module(module), name)
