"""How the platform names things in OpenLineage: its producer, its jobs, and datasets by their storage.

Every producer that touches a product (the platform, Spark's listener, dbt)
must name it the same way for its events to meet on one node; these rules are
that name. The product's own namespace, `lakemesh://<lakehouse>`, is
`Settings.namespace`: the settings compute it, so its scheme stays in
`lakemesh.settings`, below lineage.
"""

from __future__ import annotations

import os

from lakemesh.settings import split_product_name

__all__ = ["JOB_NAMESPACE", "PLATFORM_PRODUCER", "quarantine_dataset", "storage_dataset"]

PLATFORM_PRODUCER = "https://github.com/lakemesh/lakemesh"
"""The OpenLineage `producer` of every event the platform sends: the catalog trusts only these for products."""

JOB_NAMESPACE = "lakemesh"
"""The namespace of the platform's jobs (one per product or model); Spark's jobs sit beside them."""


def storage_dataset(uri: str) -> tuple[str, str]:
    """A table's OpenLineage dataset (namespace, name) by the naming spec for its storage.

    A local path is (`file`, its absolute path); an object store's URI is
    (`<scheme>://<bucket or container>`, the key), `s3a://` and `s3n://` as `s3://`.
    Spark's OpenLineage listener names a Delta table it reads or writes the same way.
    """
    if "://" not in uri or uri.startswith("file://"):
        return "file", os.path.abspath(uri.removeprefix("file://")).rstrip("/") or "/"
    scheme, rest = uri.split("://", 1)
    scheme = "s3" if scheme in ("s3a", "s3n") else scheme
    authority, _, key = rest.partition("/")
    return f"{scheme}://{authority}", key.rstrip("/")


def quarantine_dataset(product: str) -> str:
    """The lineage name of a product's quarantine: `<domain>._quarantine_<product>`, private to the domain."""
    domain, name = split_product_name(product)
    return f"{domain}._quarantine_{name}"
