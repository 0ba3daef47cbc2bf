"""Dagster assets for data products: specs from contracts, Python producers, publishing results.

A domain team writes a function that returns a DataFrame and decorates it with
`@data_product`; the platform turns it into a Dagster asset that reads its
inputs from the upstream products' Delta tables (pinning the versions read),
calls it, and publishes the result through `lakemesh.publish`.
"""

import hashlib
import inspect
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from lakemesh.column_lineage import declared_column_lineage
from lakemesh.contracts import Contract
from lakemesh.landing import landing_path, read_landing
from lakemesh.lineage import ColumnInput, InputRef
from lakemesh.publish import ContractViolation, PublishResult, publish
from lakemesh.schema import contract_checks, polars_dtype
from lakemesh.settings import Settings, split_product_name
from lakemesh.tables import current_version, read_table

__all__ = [
    "DataProduct",
    "asset_key",
    "check_specs",
    "data_product",
    "pin_inputs",
    "product_spec",
    "publish_events",
    "python_product_asset",
]


@dataclass(frozen=True, kw_only=True)
class DataProduct:
    """A Python producer: the function, the product it makes and what it reads."""

    fn: Callable[..., Any]
    name: str
    inputs: Mapping[str, str]
    landing: Sequence[str]
    columns: Mapping[str, str | Sequence[str]]

    def code_version(self) -> str:
        return hashlib.sha256(inspect.getsource(self.fn).encode()).hexdigest()[:16]


def data_product(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    inputs: Mapping[str, str] | Sequence[str] = (),
    landing: Sequence[str] = (),
    columns: Mapping[str, str | Sequence[str]] | None = None,
) -> Any:
    """Declare a Python producer of the product `name` (default: the function's name).

    `inputs` are upstream products (`"<domain>.<product>"`), passed as polars
    LazyFrames to the parameter of the product's short name, or to the key
    when given as a mapping; `landing` tables arrive as LazyFrames by table name.
    `columns` declares column lineage: `{"out_column": "param.in_column"}` (or a
    list of sources), sent to the catalog with every publish.
    """

    def wrap(function: Callable[..., Any]) -> DataProduct:
        mapped = dict(inputs) if isinstance(inputs, Mapping) else {split_product_name(p)[1]: p for p in inputs}
        params = set(inspect.signature(function).parameters)
        expected = set(mapped) | set(landing)
        if params != expected:
            raise TypeError(f"{function.__qualname__} takes {sorted(params)} but declares inputs {sorted(expected)}")
        declared = dict(columns or {})
        for column, sources in declared.items():
            for source in [sources] if isinstance(sources, str) else sources:
                param, dot, field = source.partition(".")
                if param not in expected or not dot or not field:
                    raise TypeError(
                        f"{function.__qualname__}: column {column!r} is declared from {source!r}; "
                        f"a source is '<input>.<column>' with <input> one of {sorted(expected)}"
                    )
        return DataProduct(
            fn=function, name=name or function.__name__, inputs=mapped, landing=tuple(landing), columns=declared
        )

    return wrap(fn) if fn is not None else wrap


def asset_key(product: str) -> dg.AssetKey:
    """`<domain>.<product>` -> AssetKey([domain, product])."""
    return dg.AssetKey(list(split_product_name(product)))


def _column_schema(contract: Contract) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=str(polars_dtype(c)),
                description=" ".join(
                    part
                    for part in (
                        c.description,
                        f"[{c.classification}]" if c.classification else None,
                    )
                    if part
                )
                or None,
                constraints=dg.TableColumnConstraints(nullable=not c.required, unique=c.unique or c.primary_key),
            )
            for c in contract.columns
        ]
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
        dg.AssetCheckSpec(name=check.name, asset=asset_key(contract.name), description=check.description)
        for check in contract_checks(contract)
    ]


def _check_results(contract: Contract, violation: ContractViolation | None) -> Iterator[dg.AssetCheckResult]:
    for check in contract_checks(contract):
        failure = violation.report.failed(check.name) if violation else None
        yield dg.AssetCheckResult(
            asset_key=asset_key(contract.name),
            check_name=check.name,
            passed=failure is None,
            metadata={"failing_rows": failure.rows, "examples": list(failure.examples)} if failure else {},
        )


def pin_inputs(products: Sequence[str], *, settings: Settings, reader: str) -> dict[str, int]:
    """The current Delta version of every upstream product, refusing unpublished ones."""
    pinned = {}
    for product in products:
        version = current_version(settings.table_uri(product))
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
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Publish one product and report it to Dagster: check results, then the materialization."""
    try:
        result: PublishResult = publish(
            data,
            contract=contract,
            settings=settings,
            run_id=context.run.run_id,
            code_version=code_version,
            inputs=inputs,
            extra_inputs=extra_inputs,
            column_lineage=column_lineage,
            parent_job=context.run.job_name,
        )
    except ContractViolation as violation:
        yield from _check_results(contract, violation)
        raise dg.Failure(
            description=str(violation),
            metadata={"quarantine": violation.quarantine, "kept_version": violation.kept_version},
        ) from None
    yield from _check_results(contract, None)
    yield dg.MaterializeResult(
        asset_key=asset_key(contract.name),
        metadata={
            "dagster/row_count": result.rows,
            "delta_version": result.version,
            "dagster/uri": result.uri,
            "contract_version": result.contract_version,
            "dagster/column_schema": _column_schema(contract),
            "inputs": dg.MetadataValue.json(dict(result.inputs)),
            "lineage_run_id": result.lineage_run_id,
            "validate_seconds": round(result.validate_seconds, 3),
            "write_seconds": round(result.write_seconds, 3),
        },
    )


def python_product_asset(product: DataProduct, contract: Contract, *, settings: Settings) -> dg.AssetsDefinition:
    """A Dagster asset that runs a `@data_product` function and publishes what it returns."""
    spec = product_spec(contract, settings=settings, deps=list(product.inputs.values()), kinds={"python", "polars"})

    @dg.multi_asset(
        name=f"{contract.domain}__{contract.product}",
        specs=[spec.replace_attributes(code_version=product.code_version())],
        check_specs=check_specs(contract),
    )
    def _asset(context: AssetExecutionContext):
        run_settings = Settings.from_env(project_dir=settings.project_dir)  # the env of this run decides
        pinned = pin_inputs(list(product.inputs.values()), settings=run_settings, reader=contract.name)
        frames: dict[str, Any] = {
            param: read_table(run_settings.table_uri(upstream), version=pinned[upstream])
            for param, upstream in product.inputs.items()
        }
        frames |= {table: read_landing(run_settings.landing, table).lazy() for table in product.landing}
        refs = {
            param: InputRef(namespace=run_settings.namespace, name=upstream, version=str(pinned[upstream]))
            for param, upstream in product.inputs.items()
        }
        refs |= {
            t: InputRef(namespace="file", name=str(landing_path(run_settings.landing, t))) for t in product.landing
        }
        context.log.info(f"{contract.name}: inputs {json.dumps(pinned)}, landing {list(product.landing)}")
        yield from publish_events(
            context,
            product.fn(**frames),
            contract=contract,
            settings=run_settings,
            code_version=product.code_version(),
            inputs=pinned,
            extra_inputs=[refs[t] for t in product.landing],
            column_lineage=declared_column_lineage(product.columns, inputs=refs),
        )

    return _asset
