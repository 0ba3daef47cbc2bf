"""What a producer step reads: every upstream product pinned at its current Delta version for the whole step."""

from __future__ import annotations

from collections.abc import Sequence

from lakemesh.errors import ProductNotFound
from lakemesh.settings import Settings
from lakemesh.storage.delta import current_version

__all__ = ["pin_inputs"]


def pin_inputs(products: Sequence[str], *, settings: Settings, reader: str) -> dict[str, int]:
    """The current Delta version of every upstream product, refusing unpublished ones."""
    pinned = {}
    for product in products:
        version = current_version(settings.table_uri(product), storage_options=settings.storage_options)
        if version is None:
            raise ProductNotFound(f"{reader} reads {product}, which has never been published; materialize it first")
        pinned[product] = version
    return pinned
