"""A `@data_product` or `@spark_product` function as a Dagster asset: pin its inputs, call it, publish the result."""

import json
from collections.abc import Mapping

import dagster as dg
from dagster import AssetExecutionContext

from lakemesh.compute.spark import forward_spark_lineage
from lakemesh.contracts import Contract
from lakemesh.orchestration.partitions import step_partitions
from lakemesh.orchestration.products import (
    check_specs,
    current_check_results,
    pinned_inputs,
    product_spec,
    publish_events,
)
from lakemesh.producers.python import DataProduct
from lakemesh.settings import Settings

__all__ = ["python_product_asset"]


def python_product_asset(
    product: DataProduct, contract: Contract, *, settings: Settings, inputs: Mapping[str, Contract] | None = None
) -> dg.AssetsDefinition:
    """A Dagster asset that runs a `@data_product` function and publishes what it returns.

    `inputs` are the contracts of the products it reads (their partitions map to its own). The asset needs the
    `lakehouse` resource (and `spark` for a Spark product); selecting only its checks
    judges the published version and rebuilds nothing.
    """
    product = product.in_domain(contract.domain)
    inputs = inputs or {}
    kinds = {"python", "polars"} if product.engine == "python" else {"python", "spark"}
    spec = product_spec(
        contract, settings=settings, deps=product.reads, inputs=inputs, kinds=kinds, landing=product.landing
    )
    spark = product.engine == "spark"

    @dg.multi_asset(
        name=f"{contract.domain}__{contract.product}",
        specs=[spec.replace_attributes(code_version=product.code_version())],
        check_specs=check_specs(contract),
        can_subset=True,
        required_resource_keys={"lakehouse", "spark"} if spark else {"lakehouse"},
        backfill_policy=dg.BackfillPolicy.single_run() if contract.partitioning else None,  # a range: one commit
    )
    def _asset(context: AssetExecutionContext):
        run_settings: Settings = context.resources.lakehouse.settings()
        if not context.selected_asset_keys:  # only checks selected: judge what is published, rebuild nothing
            yield from current_check_results(context, contract, settings=run_settings)
            return
        pinned = pinned_inputs(product.reads, settings=run_settings, reader=contract.name)
        context.log.info(f"{contract.name}: inputs {json.dumps(pinned)}, landing {list(product.landing)}")
        build = product.build(
            contract,
            settings=run_settings,
            pinned=pinned,
            spark=context.resources.spark.session if spark else None,
            partitions=step_partitions(context, contract),
            inputs=inputs,
        )
        try:
            yield from publish_events(context, build, contract=contract, settings=run_settings)
        finally:
            if spark:  # what Spark itself saw of the run: after the publish's own events
                forward_spark_lineage(settings=run_settings)

    return _asset
