"""How a consumer reads a published product."""

from __future__ import annotations

import polars as pl

from lakemesh.settings import Settings
from lakemesh.storage.delta import read_table

__all__ = ["read"]


def read(product: str, *, version: int | None = None, settings: Settings | None = None) -> pl.DataFrame:
    """A product's rows at `version` (default: the current one) as a polars DataFrame.

    Raises `ProductNotFound`, `VersionNotFound` or `TableUnreadable`, each naming the table.
    """
    settings = settings or Settings.from_env()
    return read_table(settings.table_uri(product), version=version, storage_options=settings.storage_options).collect()
