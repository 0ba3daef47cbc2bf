"""A domain's producers checked against its contracts, before anything is built from them.

Each contract in `contracts/<domain>/` must be produced by exactly one
producer of the kind it names, and each producer must have a contract. Only
the domain's own contracts are loaded, and of other domains only the published
interface of the products it reads, so one domain's broken contract breaks
only the domains that read that very product. A product may read its own
domain's products and other domains' `public` ones only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lakemesh.contracts import Contract, contract_from_document, load_contract, load_contracts
from lakemesh.errors import AccessRefused, DefinitionsInvalid, ProductNotFound, TableUnreadable
from lakemesh.producers.producer import Producer
from lakemesh.settings import Settings, split_product_name
from lakemesh.storage.delta import last_published_contract, open_table

__all__ = ["Domain", "check_access", "domain_contracts", "load_domain", "published_interface"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Domain:
    """A domain whose producers fit its contracts: each producer by the product it makes."""

    name: str
    producers: Mapping[str, Producer]
    own: Mapping[str, Contract]
    """The domain's contracts, by product."""
    contracts: Mapping[str, Contract]
    """Its own contracts and the published interface of every other product it reads."""


def published_interface(product: str, *, settings: Settings) -> Contract:
    """What another domain sees of `product`: the contract its current version was published under.

    A product never published yet is seen through its contract file alone; no
    other file of its domain is read. A product whose Delta log cannot be read
    is seen through its contract file too, with a warning: loading a domain
    never depends on another domain's data being healthy (its readers' steps
    fail on the damaged log when they run, and nothing else does).
    """
    domain, name = split_product_name(product)
    path = settings.project_dir / "contracts" / domain / f"{name}.yaml"
    if not path.is_file():
        raise DefinitionsInvalid(f"{product} is read but has no contract at {path}")
    try:
        table = open_table(settings.table_uri(product), storage_options=settings.storage_options)
        document = last_published_contract(table)
    except ProductNotFound:
        return load_contract(path)
    except TableUnreadable as error:
        log.warning("%s is read through its contract file %s: %s", product, path, error)
        return load_contract(path)
    return contract_from_document(document, path=path) if document else load_contract(path)


def check_access(reader: Contract, upstream: Iterable[str], contracts: Mapping[str, Contract]) -> None:
    """A product may read its own domain's products and other domains' `public` ones only."""
    for product in upstream:
        source = contracts[product]
        if source.domain != reader.domain and source.access != "public":
            raise AccessRefused(
                f"{reader.name} reads {source.name}, which is {source.access} to the {source.domain} domain: "
                f"another domain may only read public products (contract {source.path})"
            )


def domain_contracts(name: str, *, settings: Settings) -> dict[str, Contract]:
    """The domain's own contracts, by product: loaded (and refused, naming file and field) before anything else."""
    own = load_contracts(settings.project_dir / "contracts", domain=name)
    if not own:
        raise DefinitionsInvalid(f"domain {name!r} has no contracts in contracts/{name}/")
    return own


def load_domain(name: str, *, own: Mapping[str, Contract], producers: Sequence[Producer], settings: Settings) -> Domain:
    """The domain's producers, each checked against its contract (`own`) and the contracts of what it reads."""
    by_product: dict[str, list[Producer]] = {}
    for producer in producers:
        by_product.setdefault(producer.product, []).append(producer)
    for product, contract in own.items():
        made_by = [producer.kind for producer in by_product.get(product, [])]
        if made_by != [contract.producer]:
            where = " and ".join(made_by) or "nothing"
            raise DefinitionsInvalid(
                f"{product}: contract {contract.path} says producer '{contract.producer}' but it is produced by {where}"
            )
    for product in by_product:
        if product not in own:
            raise DefinitionsInvalid(
                f"{product} has a producer but no contract at contracts/{'/'.join(split_product_name(product))}.yaml"
            )
    chosen = {product: makers[0] for product, makers in by_product.items()}
    upstream = sorted({p for producer in chosen.values() for p in producer.reads} - set(own))
    contracts = {p: published_interface(p, settings=settings) for p in upstream} | dict(own)
    for product, producer in chosen.items():
        check_access(own[product], producer.reads, contracts)
    for product, producer in chosen.items():
        producer.check(own[product], contracts=contracts)
    return Domain(name=name, producers=chosen, own=own, contracts=contracts)
