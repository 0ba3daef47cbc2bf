"""How a consumer reads a published product."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl

from lakemesh.errors import AccessRefused, TableUnreadable, VersionNotFound, first_line
from lakemesh.settings import Settings, split_product_name
from lakemesh.storage.delta import last_published_contract, open_table, read_table

__all__ = ["read", "reading_as"]

_reading = {"domain": None}  # process-wide, not a ContextVar: threads a producer starts read as it too


@contextmanager
def reading_as(domain: str) -> Iterator[None]:
    """While this block runs, `read` in this process acts for a producer of `domain`.

    Other domains' products must then be public. Process-wide, so that threads
    the producer starts are held to it as well (a step runs one producer at a time).
    """
    previous, _reading["domain"] = _reading["domain"], domain
    try:
        yield
    finally:
        _reading["domain"] = previous


def _refuse_unless_public(product: str, uri: str, *, reader: str, settings: Settings) -> None:
    document = last_published_contract(open_table(uri, storage_options=settings.storage_options)) or {}
    properties = {p.get("property"): p.get("value") for p in document.get("customProperties") or []}
    access = properties.get("access", "unknown")
    if access != "public":
        domain = split_product_name(product)[0]
        raise AccessRefused(
            f"a producer of the {reader} domain read {product}, which is {access} to the {domain} domain: "
            "another domain may only read public products"
        )


def read(product: str, *, version: int | None = None, settings: Settings | None = None) -> pl.DataFrame:
    """A product's rows at `version` (default: the current one) as a polars DataFrame.

    Raises `ProductNotFound`, `VersionNotFound` (also for a version vacuumed
    beyond the retention) or `TableUnreadable`, each naming the table.
    """
    settings = settings or Settings.from_env()
    uri = settings.table_uri(product)
    reader = _reading["domain"]
    if reader is not None and split_product_name(product)[0] != reader:
        _refuse_unless_public(product, uri, reader=reader, settings=settings)
    try:
        return read_table(uri, version=version, storage_options=settings.storage_options).collect()
    except (OSError, pl.exceptions.ComputeError) as error:
        first = first_line(error)
        if version is not None and (isinstance(error, FileNotFoundError) or "not found" in first.lower()):
            raise VersionNotFound(
                f"version {version} of {uri} is no longer kept (vacuumed beyond the retention): {first}"
            ) from None
        raise TableUnreadable(f"{uri} (version {version if version is not None else 'latest'}): {first}") from None
