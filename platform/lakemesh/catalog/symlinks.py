"""Which product a storage-named dataset holds: the `symlinks` facet of the platform's events.

A symlink is honoured only from the product's own location (`<lakehouse>/<domain>/<product>`,
named by the OpenLineage naming spec for its storage): no event can point another product's
path, or any other dataset, at a product, and so misattribute the lineage that names that path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakemesh.lineage.naming import storage_dataset
from lakemesh.settings import PRODUCT_NAMESPACE_SCHEME

__all__ = ["product_location", "product_symlink"]

_QUARANTINE = "_quarantine_"
"""A product's quarantine is named `<domain>._quarantine_<product>` and stored in `<domain>/_quarantine/<product>`."""


def product_location(namespace: str, name: str) -> tuple[str, str] | None:
    """The storage dataset (namespace, name) of the product (or quarantine) `name` in the product namespace."""
    domain, dot, product = name.partition(".")
    if not namespace.startswith(PRODUCT_NAMESPACE_SCHEME) or not dot or not domain or not product:
        return None
    lakehouse = namespace.removeprefix(PRODUCT_NAMESPACE_SCHEME)
    if product.startswith(_QUARANTINE) and product != _QUARANTINE:  # `<domain>._quarantine_<product>`
        return storage_dataset(f"{lakehouse}/{domain}/_quarantine/{product.removeprefix(_QUARANTINE)}")
    return storage_dataset(f"{lakehouse}/{domain}/{product}")


def product_symlink(dataset: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the product a dataset's `symlinks` facet names, if the dataset is its location."""
    for identifier in ((dataset.get("facets") or {}).get("symlinks") or {}).get("identifiers") or []:
        if not isinstance(identifier, Mapping):
            continue
        namespace, name = str(identifier.get("namespace", "")), str(identifier.get("name", ""))
        if product_location(namespace, name) == (dataset.get("namespace"), dataset.get("name")):
            return namespace, name
    return None
