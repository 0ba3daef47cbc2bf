"""How a consumer reads a published product."""

from __future__ import annotations

import polars as pl

from lakemesh.settings import Settings
from lakemesh.tables import current_version, read_table

__all__ = ["read"]


def read(product: str, *, version: int | None = None, settings: Settings | None = None) -> pl.DataFrame:
    """A product's rows at `version` (default: the current one) as a polars DataFrame."""
    settings = settings or Settings.from_env()
    uri = settings.table_uri(product)
    if current_version(uri) is None:
        raise LookupError(f"{product} has never been published (no Delta table at {uri})")
    return read_table(uri, version=version).collect()
