"""A dbt model as one Dagster asset: build it from its pinned inputs and publish it, or only evaluate its checks."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from lakemesh.contracts import Contract
from lakemesh.orchestration.partitions import step_partitions
from lakemesh.orchestration.products import (
    check_specs,
    current_check_results,
    pinned_inputs,
    product_spec,
    publish_events,
)
from lakemesh.producers.dbt import DbtBuildFailed, DbtModel, build_model
from lakemesh.settings import Settings

__all__ = ["dbt_product_asset"]


def dbt_product_asset(model: DbtModel, contracts: Mapping[str, Contract], *, settings: Settings) -> dg.AssetsDefinition:
    """One Dagster asset per model, so Dagster orders the models and a refused one stops its dependants."""
    contract = contracts[model.product]
    spec = (
        product_spec(
            contract,
            settings=settings,
            deps=model.products,
            inputs=contracts,
            kinds={"dbt", "duckdb"},
            landing=model.landing,
        )
        .replace_attributes(code_version=model.checksum)
        .merge_attributes(metadata={"dbt_model": model.path})
    )

    @dg.multi_asset(
        name=f"{model.domain}__{model.name}",
        specs=[spec],
        check_specs=check_specs(contract),
        can_subset=True,
        required_resource_keys={"lakehouse"},
        op_tags={"dagster/priority": "-1"},  # of the steps ready at once, Python ones first while dbt warms up
        backfill_policy=dg.BackfillPolicy.single_run() if contract.partitioning else None,  # a range: one commit
    )
    def _dbt_model(context: AssetExecutionContext) -> Iterator[Any]:
        run_settings: Settings = context.resources.lakehouse.settings()
        if not context.selected_asset_keys:  # only checks selected: judge what is published, rebuild nothing
            yield from current_check_results(context, contract, settings=run_settings)
            return
        pinned = pinned_inputs(model.products, settings=run_settings, reader=contract.name)
        try:
            build = build_model(
                model,
                contracts=contracts,
                pinned=pinned,
                settings=run_settings,
                log=context.log,
                partitions=step_partitions(context, contract),
            )
        except DbtBuildFailed as failed:
            raise dg.Failure(
                description=str(failed), metadata={"dbt_output": dg.MetadataValue.md(f"```\n{failed.output}\n```")}
            ) from None
        yield from publish_events(context, build, contract=contract, settings=run_settings)

    return _dbt_model
