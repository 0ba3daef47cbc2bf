"""Build a domain's Dagster Definitions from its contracts and its producers: Python, Spark, dbt and models."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import dagster as dg

from lakemesh.orchestration.factories import producer_assets
from lakemesh.orchestration.maintenance import maintenance_jobs
from lakemesh.orchestration.resources import lakehouse_resource, spark_resource
from lakemesh.producers import Producer, load_domain
from lakemesh.producers.dbt import domain_models
from lakemesh.producers.dbt_project import prepare_dbt
from lakemesh.settings import Settings

__all__ = ["declared_producers", "domain_definitions"]


def declared_producers(module: ModuleType, domain: str) -> list[Producer]:
    """Every producer a domain module declares (`@data_product`, `@spark_product`, `xgboost_model`)."""
    found = [v for v in vars(module).values() if isinstance(v, Producer) and not isinstance(v, type)]
    return [producer.in_domain(domain) for producer in found]


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
    producers = declared_producers(products, domain) if products else []
    producers += domain_models(prepare_dbt(settings), domain)
    producers += declared_producers(models, domain) if models else []
    loaded = load_domain(domain, producers=producers, settings=settings)
    assets = [
        asset
        for producer in loaded.producers.values()
        for asset in producer_assets(producer, contracts=loaded.contracts, settings=settings)
    ]
    resources: dict[str, object] = {"lakehouse": lakehouse_resource(settings.project_dir)}
    if any(producer.kind == "spark" for producer in loaded.producers.values()):
        resources["spark"] = spark_resource()
    return dg.Definitions(
        assets=assets,
        jobs=maintenance_jobs(domain, loaded.own.values(), settings=settings),
        resources=resources,
    )
