"""Build a domain's Dagster Definitions from its contracts, Python producers and dbt models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import dagster as dg

from lakemesh.contracts import Contract, load_contracts
from lakemesh.errors import AccessRefused, DefinitionsInvalid
from lakemesh.orchestration.maintenance import maintenance_job
from lakemesh.producers.dbt import dbt_product_assets, domain_models, prepare_dbt
from lakemesh.producers.python import DataProduct, python_product_asset
from lakemesh.settings import Settings, split_product_name

__all__ = ["check_access", "domain_definitions"]


def check_access(reader: Contract, upstream: Iterable[str], contracts: Mapping[str, Contract]) -> None:
    """A product may read its own domain's products and other domains' `public` ones only."""
    for product in upstream:
        source = contracts.get(product)
        if source is None:
            raise DefinitionsInvalid(f"{reader.name} reads {product}, which has no contract in contracts/")
        if source.domain != reader.domain and source.access != "public":
            raise AccessRefused(
                f"{reader.name} reads {source.name}, which is {source.access} to the {source.domain} domain: "
                f"another domain may only read public products (contract {source.path})"
            )


def _producers(module: ModuleType) -> list[DataProduct]:
    return [value for value in vars(module).values() if isinstance(value, DataProduct)]


def domain_definitions(
    domain: str, *, products: ModuleType | None = None, project_dir: Path | None = None
) -> dg.Definitions:
    """Everything a domain publishes, as one Dagster code location.

    Each contract in `contracts/<domain>/` must be produced by exactly one
    `@data_product` function in `products` or one dbt model in
    `dbt_project/models/<domain>/`, matching the contract's `producer`.
    """
    settings = Settings.from_env(project_dir=project_dir)
    contracts = load_contracts(settings.project_dir / "contracts")
    own = {name: c for name, c in contracts.items() if c.domain == domain}
    if not own:
        raise DefinitionsInvalid(f"domain {domain!r} has no contracts in contracts/{domain}/")

    python = {f"{domain}.{p.name}": p for p in (_producers(products) if products else [])}
    models = domain_models(prepare_dbt(settings, contracts), domain)
    dbt = {m.product: m for m in models}

    for name, contract in own.items():
        made_by = [kind for kind, found in (("python", python), ("dbt", dbt)) if name in found]
        if made_by != [contract.producer]:
            where = " and ".join(made_by) or "nothing"
            raise DefinitionsInvalid(
                f"{name}: contract {contract.path} says producer '{contract.producer}' but it is produced by {where}"
            )
    for name in [*python, *dbt]:
        if name not in own:
            raise DefinitionsInvalid(
                f"{name} has a producer but no contract at contracts/{'/'.join(split_product_name(name))}.yaml"
            )
    for name, product in python.items():
        check_access(own[name], product.inputs.values(), contracts)
        unknown = sorted(set(product.columns) - {c.name for c in own[name].columns})
        if unknown:
            raise DefinitionsInvalid(
                f"{name} declares column lineage for {unknown}, which its contract {own[name].path} does not have"
            )
    for model in models:
        check_access(own[model.product], model.products, contracts)

    assets = [python_product_asset(p, own[name], settings=settings) for name, p in python.items()]
    if models:
        assets.append(dbt_product_assets(domain, models, contracts, settings=settings))
    return dg.Definitions(assets=assets, jobs=[maintenance_job(domain, own.values(), settings=settings)])
