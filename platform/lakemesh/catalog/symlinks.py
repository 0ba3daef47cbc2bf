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

__all__ = ["is_quarantine", "product_location", "product_symlink", "product_uri"]

_QUARANTINE = "_quarantine_"
"""A product's quarantine is named `<domain>._quarantine_<product>` and stored in `<domain>/_quarantine/<product>`."""


def product_uri(namespace: str, name: str) -> str | None:
    """Where the product (or quarantine) `name` of the product namespace `lakemesh://<lakehouse>` is stored."""
    domain, dot, product = name.partition(".")
    if not namespace.startswith(PRODUCT_NAMESPACE_SCHEME) or not dot or not domain or not product:
        return None
    lakehouse = namespace.removeprefix(PRODUCT_NAMESPACE_SCHEME)
    if is_quarantine(name):  # `<domain>._quarantine_<product>`
        return f"{lakehouse}/{domain}/_quarantine/{product.removeprefix(_QUARANTINE)}"
    return f"{lakehouse}/{domain}/{product}"


def is_quarantine(name: str) -> bool:
    product = name.partition(".")[2]
    return product.startswith(_QUARANTINE) and product != _QUARANTINE


def product_location(namespace: str, name: str) -> tuple[str, str] | None:
    """The storage dataset (namespace, name) of the product (or quarantine) `name` in the product namespace."""
    uri = product_uri(namespace, name)
    return storage_dataset(uri) if uri is not None else None


def product_symlink(dataset: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the product a dataset's `symlinks` facet names, if the dataset is its location."""
    for identifier in ((dataset.get("facets") or {}).get("symlinks") or {}).get("identifiers") or []:
        if not isinstance(identifier, Mapping):
            continue
        namespace, name = str(identifier.get("namespace", "")), str(identifier.get("name", ""))
        if product_location(namespace, name) == (dataset.get("namespace"), dataset.get("name")):
            return namespace, name
    return None
