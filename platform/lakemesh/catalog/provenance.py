"""What the catalog believes of a product: only what the product's Delta log confirms.

Anyone who may post events can claim to be the platform. So a product's
versions, owner, contract and description are taken only from a COMPLETE that
its Delta log confirms: the product's table, `<lakehouse>/<domain>/<product>`
for the product namespace `lakemesh://<lakehouse>`, holds the version, and a
publish whose lineage run is the event's committed it. What describes the
product is then rebuilt from the contract stored in that commit, never read
from the event. Reconcile reads the same commits to make the catalog equal to
Delta in both directions.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from lakemesh.catalog.symlinks import is_quarantine, product_uri
from lakemesh.contracts import Contract, contract_from_document
from lakemesh.errors import LakemeshError, in_one_line
from lakemesh.lineage import InvalidEvent, product_facets, publish_run_id
from lakemesh.settings import PRODUCT_NAMESPACE_SCHEME
from lakemesh.storage.commit import PublishCommit, rows_written

__all__ = [
    "LogUnreliable",
    "ProductCommit",
    "UnconfirmedVersion",
    "confirmed_commit",
    "product_table",
    "publish_commits",
    "refusal_in_product_namespace",
]


class UnconfirmedVersion(InvalidEvent):
    """A COMPLETE claims a product version that the product's Delta log does not confirm: nothing of it is stored."""


_NAME = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
"""A product's name, `<domain>.<product>`: plain ASCII words, so no two spellings reach one table."""


def product_table(namespace: str, name: str) -> str | None:
    """The Delta table of product `name` in the product namespace `namespace`; None for anything else (another
    namespace, a name that is not `<domain>.<product>`, a quarantine)."""
    if not _NAME.fullmatch(name) or is_quarantine(name):
        return None
    return product_uri(namespace, name)


def refusal_in_product_namespace(namespace: str, name: str) -> str | None:
    """Why no event may name the dataset `name` of `namespace`, when `namespace` is a lakehouse's product
    namespace: only a canonical `lakemesh://<lakehouse>` (no trailing slash, no `.` or `..` steps) and product or
    quarantine names, so that no other spelling of a product's table makes a second, forgeable entry."""
    if not namespace.startswith(PRODUCT_NAMESPACE_SCHEME):
        return None
    lakehouse = namespace.removeprefix(PRODUCT_NAMESPACE_SCHEME)
    remote = "://" in lakehouse
    path = lakehouse.partition("://")[2] if remote else lakehouse
    if (not remote and not path.startswith("/")) or path.endswith("/") or posixpath.normpath(path) != path:
        return f"{namespace!r} is not a canonical product namespace (lakemesh://<lakehouse> as the settings name it)"
    if not _NAME.fullmatch(name):
        return f"{name!r} in the product namespace {namespace} is not a product name (<domain>.<product>)"
    return None


@dataclass(frozen=True, kw_only=True)
class ProductCommit:
    """One version of a product as its Delta log records it, committed by a publish."""

    namespace: str
    product: str
    location: str
    version: int
    record: PublishCommit
    rows: int | None
    at: datetime

    @property
    def run_id(self) -> str:
        """The lineage run of the publish that committed it."""
        return publish_run_id(self.record.app_id or "")

    @property
    def contract(self) -> Contract:
        return _contract(self.product, self.record.contract or "")

    def facets(self) -> dict[str, Any]:
        """The product's descriptive facets (schema, ownership, documentation, contract, symlinks), as JSON, from
        the contract this version was published under."""
        from openlineage.client.serde import Serde  # the client takes half a second to import

        built = product_facets(self.contract, namespace=self.namespace, location=self.location)
        return {name: Serde.to_dict(facet) for name, facet in built.items()}


def publish_commits(
    namespace: str, product: str, *, storage_options: dict[str, str] | None = None
) -> list[ProductCommit]:
    """Every version of the product committed by a publish, oldest first ([] when it was never published).

    Maintenance commits (OPTIMIZE, VACUUM) and quarantine commits are not versions of the product's data.
    """
    location = _location(namespace, product)
    try:
        table = DeltaTable(location, storage_options=storage_options or None)
    except TableNotFoundError:
        return []
    history = table.history()
    _check_numbering(location, history, expected=table.version() + 1)
    found = [_commit(namespace, product, location, info) for info in history]
    return sorted((c for c in found if c is not None), key=lambda c: c.version)


class LogUnreliable(LakemeshError):
    """A Delta log whose commits cannot all be numbered: deltalake numbers its history by position, so one commit
    without its commitInfo (or a damaged entry) would shift every older version."""


def _check_numbering(location: str, history: list[dict[str, Any]], *, expected: int) -> None:
    if len(history) != expected:
        raise LogUnreliable(
            f"the Delta log at {location} yields {len(history)} commit entries where {expected} were expected (a "
            "commit without its commitInfo, or a damaged entry): its versions cannot be told apart, so nothing is "
            "recorded or removed for it"
        )


def confirmed_commit(
    namespace: str,
    product: str,
    *,
    version: str | None,
    run_id: str,
    storage_options: dict[str, str] | None = None,
) -> ProductCommit:
    """The commit of `version` of the product, if its Delta log holds it and the publish of lineage run `run_id`
    made it; `UnconfirmedVersion` says why not."""
    location = _location(namespace, product)
    claim = f"a COMPLETE of product {product} version {version} is not confirmed by its Delta log at {location}"
    if version is None or not (version.isascii() and version.isdigit()):
        raise UnconfirmedVersion(f"{claim}: a product's version is a Delta version number, got {version!r}")
    try:
        table = DeltaTable(location, storage_options=storage_options or None)
    except TableNotFoundError:
        raise UnconfirmedVersion(f"{claim}: there is no Delta table there") from None
    except DeltaError as error:
        raise UnconfirmedVersion(f"{claim}: the log cannot be read ({in_one_line(error)})") from None
    latest = table.version()
    if int(version) > latest:
        raise UnconfirmedVersion(f"{claim}: its latest version is {latest}")
    # the history of the latest table, newest first (deltalake misnumbers that of a table loaded at a version)
    window = table.history(latest - int(version) + 1)
    try:
        _check_numbering(location, window, expected=latest - int(version) + 1)
    except LogUnreliable as error:
        raise UnconfirmedVersion(f"{claim}: {error}") from None
    history = [info for info in window if info["version"] == int(version)]
    commit = next((c for info in history if (c := _commit(namespace, product, location, info))), None)
    if commit is None:
        raise UnconfirmedVersion(f"{claim}: version {version} was not committed by a publish")
    if commit.run_id != run_id:
        raise UnconfirmedVersion(f"{claim}: the publish of run {commit.run_id} committed it, not run {run_id}")
    return commit


def _location(namespace: str, product: str) -> str:
    location = product_table(namespace, product)
    if location is None:
        raise ValueError(f"{product!r} in {namespace!r} is not a product of a lakehouse")
    return location


def _commit(namespace: str, product: str, location: str, info: dict[str, Any]) -> ProductCommit | None:
    record = PublishCommit.read(info)
    if record is None or not record.of_publish:
        return None
    return ProductCommit(
        namespace=namespace,
        product=product,
        location=location,
        version=info["version"],
        record=record,
        rows=rows_written(info),
        at=datetime.fromtimestamp(info["timestamp"] / 1000, tz=UTC),
    )


@lru_cache(maxsize=256)
def _contract(product: str, document: str) -> Contract:
    domain, name = product.split(".")
    return contract_from_document(json.loads(document), path=Path(domain) / f"{name}.yaml")
