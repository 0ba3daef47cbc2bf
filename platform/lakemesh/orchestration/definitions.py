"""Build a domain's Dagster Definitions from its contracts, Python producers, dbt models and declared models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import dagster as dg

from lakemesh.compute.spark import SparkResource
from lakemesh.contracts import Contract, contract_from_document, load_contract, load_contracts
from lakemesh.errors import AccessRefused, DefinitionsInvalid, ProductNotFound
from lakemesh.ml.assets import model_assets
from lakemesh.ml.spec import ModelSpec, check_declaration
from lakemesh.orchestration.maintenance import maintenance_jobs
from lakemesh.producers.dbt import check_model_sql, dbt_product_asset, domain_models, prepare_dbt
from lakemesh.producers.python import DataProduct, python_product_asset
from lakemesh.settings import Settings, split_product_name
from lakemesh.storage.delta import last_published_contract, open_table

__all__ = ["check_access", "domain_definitions", "published_interface"]


_SPARK = SparkResource()
"""One resource object for every code location: merged into one run (`lakemesh run`), they must be the same."""


def published_interface(product: str, *, settings: Settings) -> Contract:
    """What another domain sees of `product`: the contract its current version was published under.

    A product never published yet is seen through its contract file alone; no
    other file of its domain is read, so one domain's broken contract breaks
    only the domains that read that very product.
    """
    domain, name = split_product_name(product)
    path = settings.project_dir / "contracts" / domain / f"{name}.yaml"
    if not path.is_file():
        raise DefinitionsInvalid(f"{product} is read but has no contract at {path}")
    try:
        table = open_table(settings.table_uri(product), storage_options=settings.storage_options)
    except ProductNotFound:
        return load_contract(path)
    document = last_published_contract(table)
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


def _producers(module: ModuleType) -> list[DataProduct]:
    return [value for value in vars(module).values() if isinstance(value, DataProduct)]


def _models(module: ModuleType) -> list[ModelSpec]:
    return [value for value in vars(module).values() if isinstance(value, ModelSpec)]


def domain_definitions(
    domain: str,
    *,
    products: ModuleType | None = None,
    models: ModuleType | None = None,
    project_dir: Path | None = None,
) -> dg.Definitions:
    """Everything a domain publishes, as one Dagster code location.

    Each contract in `contracts/<domain>/` must be produced by exactly one
    `@data_product` or `@spark_product` function in `products`, one dbt model in
    `dbt_project/models/<domain>/` or one `xgboost_model` declaration in `models`
    (its predictions), matching the contract's `producer`. Only
    the domain's own contracts are loaded, and of other domains only the
    published interface of the products it reads.
    """
    settings = Settings.from_env(project_dir=project_dir)
    own = load_contracts(settings.project_dir / "contracts", domain=domain)
    if not own:
        raise DefinitionsInvalid(f"domain {domain!r} has no contracts in contracts/{domain}/")

    python = {f"{domain}.{p.name}": p for p in (_producers(products) if products else [])}
    dbt_models = domain_models(prepare_dbt(settings), domain)
    dbt = {m.product: m for m in dbt_models}
    declared: dict[str, ModelSpec] = {}
    for spec in _models(models) if models else []:
        if spec.predictions in declared:
            raise DefinitionsInvalid(f"{spec.predictions} is the predictions of two models: one product, one model")
        declared[spec.predictions] = spec

    for name, contract in own.items():
        made_by = [python[name].engine] if name in python else []
        made_by += ["dbt"] if name in dbt else []
        made_by += ["model"] if name in declared else []
        if made_by != [contract.producer]:
            where = " and ".join(made_by) or "nothing"
            raise DefinitionsInvalid(
                f"{name}: contract {contract.path} says producer '{contract.producer}' but it is produced by {where}"
            )
    for name in [*python, *dbt, *declared]:
        if name not in own:
            raise DefinitionsInvalid(
                f"{name} has a producer but no contract at contracts/{'/'.join(split_product_name(name))}.yaml"
            )
    reads = {name: list(p.inputs.values()) for name, p in python.items()} | {m.product: m.products for m in dbt_models}
    reads |= {name: [spec.features] for name, spec in declared.items()}
    upstream = sorted({p for products_read in reads.values() for p in products_read} - set(own))
    contracts = {p: published_interface(p, settings=settings) for p in upstream} | own
    for name, products_read in reads.items():
        check_access(own[name], products_read, contracts)
    for name, product in python.items():
        unknown = sorted(set(product.columns) - {c.name for c in own[name].columns})
        if unknown:
            raise DefinitionsInvalid(
                f"{name} declares column lineage for {unknown}, which its contract {own[name].path} does not have"
            )
    for model in dbt_models:
        check_model_sql(model, model.compiled_code)
    for name, spec in declared.items():
        check_declaration(spec, features=contracts[spec.features], predictions=own[name])

    assets = [python_product_asset(p, own[name], settings=settings) for name, p in python.items()]
    assets += [dbt_product_asset(m, contracts, settings=settings) for m in dbt_models]
    for name, spec in declared.items():
        assets += model_assets(spec, features=contracts[spec.features], predictions=own[name], settings=settings)
    spark = any(p.engine == "spark" for p in python.values())
    return dg.Definitions(
        assets=assets,
        jobs=maintenance_jobs(domain, own.values(), settings=settings),
        resources={"spark": _SPARK} if spark else {},
    )
