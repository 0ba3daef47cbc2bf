"""How a consumer reads a published product."""

from __future__ import annotations

import polars as pl

from lakemesh.errors import TableUnreadable, VersionNotFound
from lakemesh.settings import Settings
from lakemesh.storage.delta import read_table

__all__ = ["read"]


def read(product: str, *, version: int | None = None, settings: Settings | None = None) -> pl.DataFrame:
    """A product's rows at `version` (default: the current one) as a polars DataFrame.

    Raises `ProductNotFound`, `VersionNotFound` (also for a version vacuumed
    beyond the retention) or `TableUnreadable`, each naming the table.
    """
    settings = settings or Settings.from_env()
    uri = settings.table_uri(product)
    try:
        return read_table(uri, version=version, storage_options=settings.storage_options).collect()
    except (OSError, pl.exceptions.ComputeError) as error:
        first = str(error).strip().splitlines()[0]
        if version is not None and (isinstance(error, FileNotFoundError) or "not found" in first.lower()):
            raise VersionNotFound(
                f"version {version} of {uri} is no longer kept (vacuumed beyond the retention): {first}"
            ) from None
        raise TableUnreadable(f"{uri} (version {version if version is not None else 'latest'}): {first}") from None
