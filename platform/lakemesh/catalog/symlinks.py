"""Which product a storage-named dataset holds: the `symlinks` facet of the platform's events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakemesh.settings import PRODUCT_NAMESPACE_SCHEME

__all__ = ["product_symlink"]


def product_symlink(dataset: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the product a dataset's `symlinks` facet names, if any."""
    for identifier in ((dataset.get("facets") or {}).get("symlinks") or {}).get("identifiers") or []:
        namespace = str(identifier.get("namespace", "")) if isinstance(identifier, Mapping) else ""
        if namespace.startswith(PRODUCT_NAMESPACE_SCHEME):
            return namespace, str(identifier["name"])
    return None
