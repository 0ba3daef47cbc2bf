"""The Dagster view of products: specs and checks from contracts, pinned inputs, publish results as events."""

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from lakemesh.contracts import Contract
from lakemesh.errors import ContractViolation
from lakemesh.lineage import ColumnInput, InputRef
from lakemesh.producers.publish import PublishResult, publish
from lakemesh.quality import ValidationReport, as_polars, validate
from lakemesh.settings import Settings, split_product_name
from lakemesh.storage.delta import current_version, read_table

__all__ = ["asset_key", "check_specs", "current_check_results", "pin_inputs", "product_spec", "publish_events"]


def asset_key(product: str) -> dg.AssetKey:
    """`<domain>.<product>` -> AssetKey([domain, product])."""
    return dg.AssetKey(list(split_product_name(product)))


def _column_schema(contract: Contract) -> dg.TableSchema:
    """Columns with their types and constraints; a primary key is one table constraint, not unique columns."""
    key = contract.primary_key
    return dg.TableSchema(
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(key)})"]) if key else None,
        columns=[
            dg.TableColumn(
                name=c.name,
                type=str(contract.plan.column(c.name).type),
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


def product_spec(contract: Contract, *, settings: Settings, deps: Sequence[str], kinds: set[str]) -> dg.AssetSpec:
    """The Dagster view of a product: everything but the code comes from its contract."""
    freshness = (
        dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=contract.freshness_hours))
        if contract.freshness_hours
        else None
    )
    return dg.AssetSpec(
        key=asset_key(contract.name),
        deps=[asset_key(d) for d in deps],
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
        },
        freshness_policy=freshness,
    )


def check_specs(contract: Contract) -> list[dg.AssetCheckSpec]:
    """One Dagster asset check per contract guarantee."""
    return [
        # blocking: a failed contract check means nothing was published, so nothing downstream may run on it
        dg.AssetCheckSpec(name=check.name, asset=asset_key(contract.name), description=check.description, blocking=True)
        for check in contract.plan.checks
    ]


def _check_results(
    context: AssetExecutionContext, contract: Contract, report: ValidationReport | None, **metadata: Any
) -> Iterator[dg.AssetCheckResult]:
    """One result per selected check: failed when `report` names it (None: the batch passed)."""
    selected = {key.name for key in context.selected_asset_check_keys}
    for check in contract.plan.checks:
        if check.name not in selected:
            continue
        failure = report.failed(check.name) if report else None
        details = {"failing_rows": failure.rows, "examples": list(failure.examples)} if failure else {}
        yield dg.AssetCheckResult(
            asset_key=asset_key(contract.name),
            check_name=check.name,
            passed=failure is None,
            metadata={**metadata, **details},
        )


def current_check_results(
    context: AssetExecutionContext, contract: Contract, *, settings: Settings
) -> Iterator[dg.AssetCheckResult]:
    """The selected checks judged on the product's current published version: nothing is rebuilt or written."""
    uri = settings.table_uri(contract.name)
    version = current_version(uri, storage_options=settings.storage_options)
    if version is None:
        raise dg.Failure(f"{contract.name} has never been published: there is nothing to check yet")
    frame = read_table(uri, version=version, storage_options=settings.storage_options).collect()
    report = validate(as_polars(frame, contract.plan), contract)
    yield from _check_results(context, contract, report if not report.passed else None, delta_version=version)


def pin_inputs(products: Sequence[str], *, settings: Settings, reader: str) -> dict[str, int]:
    """The current Delta version of every upstream product, refusing unpublished ones."""
    pinned = {}
    for product in products:
        version = current_version(settings.table_uri(product), storage_options=settings.storage_options)
        if version is None:
            raise dg.Failure(f"{reader} reads {product}, which has never been published; materialize it first")
        pinned[product] = version
    return pinned


def publish_events(
    context: AssetExecutionContext,
    data: Any,
    *,
    contract: Contract,
    settings: Settings,
    code_version: str | None,
    inputs: Mapping[str, int],
    extra_inputs: Sequence[InputRef] = (),
    column_lineage: Mapping[str, Sequence[ColumnInput]] | None = None,
    dataset_lineage: Sequence[ColumnInput] = (),
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Publish one product and report it to Dagster: check results, then the materialization."""
    try:
        result: PublishResult = publish(
            data,
            contract=contract,
            settings=settings,
            run_id=context.run.run_id,
            step=context.op_def.name,
            code_version=code_version,
            inputs=inputs,
            extra_inputs=extra_inputs,
            column_lineage=column_lineage,
            dataset_lineage=dataset_lineage,
            parent_job=context.run.job_name,
        )
    except ContractViolation as violation:
        yield from _check_results(context, contract, violation.report)
        raise dg.Failure(
            description=str(violation),
            metadata={"quarantine": violation.quarantine, "kept_version": violation.kept_version},
        ) from None
    yield from _check_results(context, contract, None)
    yield dg.MaterializeResult(
        asset_key=asset_key(contract.name),
        metadata={
            "dagster/row_count": result.rows,
            "delta_version": result.version,
            "already_committed": result.duplicate,
            "dagster/uri": result.uri,
            "contract_version": result.contract_version,
            "dagster/column_schema": _column_schema(contract),
            "inputs": dg.MetadataValue.json(dict(result.inputs)),
            "lineage_run_id": result.lineage_run_id,
            "validate_seconds": round(result.validate_seconds, 3),
            "write_seconds": round(result.write_seconds, 3),
        },
    )
