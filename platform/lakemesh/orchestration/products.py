"""The Dagster view of products: specs and checks from contracts, a step's pinned inputs, publishes as events.

Every asset factory (Python, Spark, dbt, model predictions) uses these, so a
product looks and reports the same in Dagster whatever produced it.
"""

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from lakemesh.contracts import Contract
from lakemesh.errors import ProductNotFound
from lakemesh.orchestration.partitions import partition_mapping, partitions_definition, step_partitions
from lakemesh.producers import ProductBuild, PublishResult, judge_published, pin_inputs, publish
from lakemesh.quality import ContractViolation, ValidationReport
from lakemesh.settings import Settings, split_product_name
from lakemesh.storage.landing import last_landed_day

__all__ = [
    "CONTRACT_CHECK",
    "LANDING_METADATA",
    "asset_key",
    "check_specs",
    "current_check_results",
    "pinned_inputs",
    "product_name",
    "product_spec",
    "publish_events",
]


LANDING_METADATA = "lakemesh/landing"
"""An asset's metadata key naming the landing tables it reads: the catch-up sees when they changed."""


def asset_key(product: str) -> dg.AssetKey:
    """`<domain>.<product>` -> AssetKey([domain, product])."""
    return dg.AssetKey(list(split_product_name(product)))


def product_name(key: dg.AssetKey) -> str:
    """AssetKey([domain, product]) -> `<domain>.<product>` (a model's key too)."""
    return ".".join(key.path)


def _column_schema(contract: Contract) -> dg.TableSchema:
    """Columns with their types and constraints; a primary key is one table constraint, not unique columns."""
    key = contract.primary_key
    return dg.TableSchema(
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(key)})"]) if key else None,
        columns=[
            dg.TableColumn(
                name=c.name,
                type=str(c.type),
                description=" ".join(
                    part
                    for part in (
                        c.description,
                        f"[{c.classification}]" if c.classification else None,
                    )
                    if part
                )
                or None,
                constraints=dg.TableColumnConstraints(nullable=not c.required, unique=c.unique or key == (c.name,)),
            )
            for c in contract.columns
        ],
    )


def product_spec(
    contract: Contract,
    *,
    settings: Settings,
    deps: Sequence[str],
    inputs: Mapping[str, Contract],
    kinds: set[str],
    landing: Sequence[str] = (),
) -> dg.AssetSpec:
    """The Dagster view of a product: everything but the code comes from its contract (and its partitions' mappings
    to the partitioned ones of its `deps`, from theirs: `inputs`, by product). `landing` names the landing tables
    it reads, for the catch-up to see when they changed."""
    freshness = (
        dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=contract.freshness_hours))
        if contract.freshness_hours
        else None
    )
    partitioning = contract.partitioning
    return dg.AssetSpec(
        key=asset_key(contract.name),
        deps=[
            dg.AssetDep(
                asset_key(d),
                partition_mapping=partition_mapping(partitioning, getattr(inputs.get(d), "partitioning", None)),
            )
            for d in deps
        ],
        partitions_def=(
            partitions_definition(partitioning, through=last_landed_day(settings.landing)) if partitioning else None
        ),
        description=contract.description,
        owners=[f"team:{contract.owner}"],
        group_name=contract.domain,
        kinds={"delta", *kinds},
        tags={"lakemesh/access": contract.access},
        metadata={
            "dagster/column_schema": _column_schema(contract),
            "dagster/uri": settings.table_uri(contract.name),
            "contract": dg.MetadataValue.path(str(contract.path.relative_to(settings.project_dir))),
            "contract_id": contract.id,
            "contract_version": contract.version,
            "access": contract.access,
            LANDING_METADATA: list(landing),
        },
        freshness_policy=freshness,
    )


CONTRACT_CHECK = "contract"
"""A partitioned product's one asset check: every guarantee of its contract, judged per partition."""


def check_specs(contract: Contract) -> list[dg.AssetCheckSpec]:
    """One Dagster asset check per contract guarantee; for a partitioned product, one for them all.

    Dagster keeps a partitioned asset's checks per partition: twenty checks over six years of days are three
    hundred thousand rows of its event log, planned at every run; one check per partition says the same (its
    metadata names the guarantees that failed).
    """
    key = asset_key(contract.name)
    # blocking: a failed contract check means nothing was published, so nothing downstream may run on it
    if contract.partitioning is not None:
        names = ", ".join(check.name for check in contract.plan.checks)
        return [dg.AssetCheckSpec(CONTRACT_CHECK, asset=key, description=f"every guarantee: {names}", blocking=True)]
    return [
        dg.AssetCheckSpec(name=check.name, asset=key, description=check.description, blocking=True)
        for check in contract.plan.checks
    ]


def _check_results(
    context: AssetExecutionContext, contract: Contract, report: ValidationReport | None, **metadata: Any
) -> Iterator[dg.AssetCheckResult]:
    """One result per selected check: failed when `report` names it (None: the batch passed)."""
    selected = {key.name for key in context.selected_asset_check_keys}
    failures = {check.name: report.failed(check.name) if report else None for check in contract.plan.checks}
    if contract.partitioning is not None:
        if CONTRACT_CHECK in selected:
            failed = [name for name, failure in failures.items() if failure is not None]
            yield dg.AssetCheckResult(
                asset_key=asset_key(contract.name),
                check_name=CONTRACT_CHECK,
                passed=not failed,
                metadata={**metadata, "guarantees": list(failures), "failed": failed},
            )
        return
    for name, failure in failures.items():
        if name not in selected:
            continue
        details = {"failing_rows": failure.rows, "examples": list(failure.examples)} if failure else {}
        yield dg.AssetCheckResult(
            asset_key=asset_key(contract.name),
            check_name=name,
            passed=failure is None,
            metadata={**metadata, **details},
        )


def current_check_results(
    context: AssetExecutionContext, contract: Contract, *, settings: Settings
) -> Iterator[dg.AssetCheckResult]:
    """The selected checks judged on the product's current published version: nothing is rebuilt or written."""
    try:
        version, report = judge_published(contract, settings=settings)
    except ProductNotFound as error:
        raise dg.Failure(str(error)) from None
    yield from _check_results(context, contract, report if not report.passed else None, delta_version=version)


def pinned_inputs(products: Sequence[str], *, settings: Settings, reader: str) -> dict[str, int]:
    """The step's inputs pinned at their current versions; an unpublished one fails the step, saying so."""
    try:
        return pin_inputs(products, settings=settings, reader=reader)
    except ProductNotFound as error:
        raise dg.Failure(str(error)) from None


def publish_events(
    context: AssetExecutionContext, build: ProductBuild, *, contract: Contract, settings: Settings
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Publish what the step built and report it to Dagster: check results, then the materialization (of each
    partition the step built, for a partitioned product: the one commit replaced them all)."""
    partitions = step_partitions(context, contract)
    try:
        result: PublishResult = publish(
            build.data,
            contract=contract,
            settings=settings,
            run_id=context.run.run_id,
            step=context.op_def.name,
            code_version=build.code_version,
            inputs=build.inputs,
            extra_inputs=build.extra_inputs,
            column_lineage=build.column_lineage,
            dataset_lineage=build.dataset_lineage,
            parent_job=context.run.job_name,
            partition=partitions,
        )
    except ContractViolation as violation:
        yield from _check_results(context, contract, violation.report)
        raise dg.Failure(
            description=str(violation),
            metadata={"quarantine": violation.quarantine, "kept_version": violation.kept_version},
        ) from None
    yield from _check_results(context, contract, None)
    metadata: dict[str, Any] = {
        "delta_version": result.version,
        "already_committed": result.duplicate,
        "contract_version": result.contract_version,
        "lineage_run_id": result.lineage_run_id,
    }
    if partitions is None:
        metadata |= {
            "dagster/row_count": result.rows,
            "dagster/uri": result.uri,
            "dagster/column_schema": _column_schema(contract),
            "inputs": dg.MetadataValue.json(dict(result.inputs)),
            "validate_seconds": round(result.validate_seconds, 3),
            "write_seconds": round(result.write_seconds, 3),
        }
    else:  # Dagster records it once per partition of the range: what is the same for all is on the asset
        first, last = partitions
        metadata |= {"commit_partitions": first if first == last else f"{first}...{last}", "commit_rows": result.rows}
    yield dg.MaterializeResult(asset_key=asset_key(contract.name), metadata=metadata)
