"""One Dagster asset factory per kind of producer, chosen by the producer's type.

A new kind of producer registers its factory here; `domain_definitions` calls
`producer_assets` for every producer of a domain and knows no kind by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import singledispatch

import dagster as dg

from lakemesh.contracts import Contract
from lakemesh.errors import DefinitionsInvalid
from lakemesh.ml.spec import ModelSpec
from lakemesh.orchestration.dbt_assets import dbt_product_asset
from lakemesh.orchestration.model_assets import model_assets
from lakemesh.orchestration.python_assets import python_product_asset
from lakemesh.producers import Producer
from lakemesh.producers.dbt import DbtModel
from lakemesh.producers.python import DataProduct
from lakemesh.settings import Settings

__all__ = ["producer_assets"]


@singledispatch
def producer_assets(
    producer: Producer, *, contracts: Mapping[str, Contract], settings: Settings
) -> list[dg.AssetsDefinition]:
    """The Dagster assets of one producer, given every contract its domain sees."""
    raise DefinitionsInvalid(f"{producer.product}: Lakemesh has no asset factory for a {type(producer).__name__}")


@producer_assets.register
def _(producer: DataProduct, *, contracts: Mapping[str, Contract], settings: Settings) -> list[dg.AssetsDefinition]:
    return [python_product_asset(producer, contracts[producer.product], settings=settings, inputs=contracts)]


@producer_assets.register
def _(producer: DbtModel, *, contracts: Mapping[str, Contract], settings: Settings) -> list[dg.AssetsDefinition]:
    return [dbt_product_asset(producer, contracts, settings=settings)]


@producer_assets.register
def _(producer: ModelSpec, *, contracts: Mapping[str, Contract], settings: Settings) -> list[dg.AssetsDefinition]:
    return model_assets(
        producer, features=contracts[producer.features], predictions=contracts[producer.product], settings=settings
    )
