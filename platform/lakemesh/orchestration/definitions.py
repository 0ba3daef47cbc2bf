"""Build a domain's Dagster Definitions from its contracts and its producers: Python, Spark, dbt and models."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import dagster as dg

from lakemesh.orchestration.factories import producer_assets
from lakemesh.orchestration.maintenance import maintenance_jobs
from lakemesh.orchestration.resources import lakehouse_resource, spark_resource
from lakemesh.producers import Producer, domain_contracts, load_domain
from lakemesh.producers.dbt_project import domain_models, prepare_dbt
from lakemesh.settings import Settings

__all__ = ["declared_producers", "domain_definitions"]


def declared_producers(*modules: ModuleType, domain: str) -> list[Producer]:
    """Every producer the domain's modules declare (`@data_product`, `@spark_product`, `xgboost_model`), once
    each even where a module imports another's or names one twice."""
    found = {
        id(value): value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, Producer) and not isinstance(value, type)
    }
    return [producer.in_domain(domain) for producer in found.values()]


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
    own = domain_contracts(domain, settings=settings)
    producers = declared_producers(*[m for m in (products, models) if m is not None], domain=domain)
    producers += domain_models(prepare_dbt(settings), domain)
    loaded = load_domain(domain, own=own, producers=producers, settings=settings)
    assets = [
        asset
        for producer in loaded.producers.values()
        for asset in producer_assets(producer, contracts=loaded.contracts, settings=settings)
    ]
    needed = {key for asset in assets for key in asset.required_resource_keys}
    resources = {"lakehouse": lakehouse_resource(settings.project_dir), "spark": spark_resource()}
    return dg.Definitions(
        assets=assets,
        jobs=maintenance_jobs(domain, own.values(), settings=settings),
        resources={key: resource for key, resource in resources.items() if key in needed or key == "lakehouse"},
    )
