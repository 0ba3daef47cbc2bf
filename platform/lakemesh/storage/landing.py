"""The landing zone: raw files that products declare as inputs, read with clear errors.

The platform knows landing tables only by the names producers declare; what
fills the landing zone (the sample's TPC-H generator, an ingestion tool) is
not its business.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from lakemesh.errors import LandingDataBad

__all__ = ["checked_landing_file", "landing_columns", "landing_generator", "landing_path", "read_landing"]


_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def landing_path(landing: Path, table: str) -> Path:
    """`<landing>/<table>.parquet`; a table is a plain name, so no declaration reaches outside the landing zone."""
    if not _TABLE_NAME.fullmatch(table):
        raise LandingDataBad(landing / str(table), "a landing table is a plain name (letters, digits, _), not a path")
    return landing / f"{table}.parquet"


def checked_landing_file(landing: Path, table: str) -> Path:
    """The landing file of a table, if it exists and has a readable Parquet footer."""
    path = landing_path(landing, table)
    if not path.is_file():
        raise LandingDataBad(path, "file not found (fill the landing zone first, e.g. `lakemesh generate`)")
    try:
        pq.read_metadata(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise LandingDataBad(path, f"not a readable Parquet file: {exc}") from None
    return path


def landing_columns(landing: Path, table: str) -> dict[str, str]:
    """A landing table's columns and Arrow types, from the Parquet footer alone."""
    return {f.name: str(f.type) for f in pq.read_schema(checked_landing_file(landing, table))}


def read_landing(landing: Path, table: str) -> pl.DataFrame:
    """Read one landing table, failing with its path and the reason when it cannot be read."""
    path = checked_landing_file(landing, table)
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # a footer can be intact while data pages are not
        raise LandingDataBad(path, f"not a readable Parquet file: {exc}") from None


def landing_generator(project_dir: Path) -> Callable[..., list[Path]]:
    """The project's own filler of the landing zone: `[tool.lakemesh] landing-generator = "module:function"`.

    It is called as `function(landing_dir, scale_factor=..., force=...)`.
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
