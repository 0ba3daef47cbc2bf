"""Python producers: a decorated function that returns a DataFrame becomes a product's Dagster asset.

A domain team writes a function that returns a DataFrame (polars preferred;
pandas and Arrow accepted) and decorates it with `@data_product`, or one that
takes and returns Spark DataFrames and decorates it with `@spark_product`; the
platform turns it into a Dagster asset that reads its inputs from the upstream
products' Delta tables (pinning the versions read), calls it, and publishes the
result through `lakemesh.publish`.
"""

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import dagster as dg
from dagster import AssetExecutionContext

from lakemesh.compute.spark import forward_spark_lineage
from lakemesh.contracts import Contract
from lakemesh.lineage import INDIRECT_SUBTYPES, InputRef, declared_column_lineage, declared_dataset_lineage
from lakemesh.orchestration.assets import (
    check_specs,
    current_check_results,
    pin_inputs,
    product_spec,
    publish_events,
)
from lakemesh.settings import Settings, split_product_name
from lakemesh.storage.delta import read_table
from lakemesh.storage.landing import landing_path, read_landing
from lakemesh.storage.reader import reading_as

__all__ = ["DataProduct", "data_product", "python_product_asset", "spark_product"]


@dataclass(frozen=True, kw_only=True)
class DataProduct:
    """A Python producer: the function, the product it makes and what it reads."""

    fn: Callable[..., Any]
    name: str
    inputs: Mapping[str, str]
    landing: Sequence[str]
    columns: Mapping[str, str | Sequence[str]]
    indirect: Mapping[str, str | Sequence[str]]
    engine: Literal["python", "spark"] = "python"
    """`spark`: inputs arrive as Spark DataFrames and the function returns one."""

    def code_version(self) -> str:
        return hashlib.sha256(inspect.getsource(self.fn).encode()).hexdigest()[:16]


def data_product(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    inputs: Mapping[str, str] | Sequence[str] = (),
    landing: Sequence[str] = (),
    columns: Mapping[str, str | Sequence[str]] | None = None,
    indirect: Mapping[str, str | Sequence[str]] | None = None,
) -> Any:
    """Declare a Python producer of the product `name` (default: the function's name).

    `inputs` are upstream products (`"<domain>.<product>"`), passed as polars
    LazyFrames to the parameter of the product's short name, or to the key
    when given as a mapping; `landing` tables arrive as LazyFrames by table name.
    `columns` declares column lineage: `{"out_column": "param.in_column"}` (or a
    list of sources), sent to the catalog with every publish. `indirect` declares
    the columns that shape every row without being projected, by how:
    `{"JOIN": [...], "FILTER": "param.in_column", ...}` (OpenLineage INDIRECT
    subtypes), so impact analysis reaches this product through them.
    """

    def wrap(function: Callable[..., Any]) -> DataProduct:
        mapped = dict(inputs) if isinstance(inputs, Mapping) else {split_product_name(p)[1]: p for p in inputs}
        params = set(inspect.signature(function).parameters)
        expected = set(mapped) | set(landing)
        if params != expected:
            raise TypeError(f"{function.__qualname__} takes {sorted(params)} but declares inputs {sorted(expected)}")
        declared, shaping = dict(columns or {}), dict(indirect or {})
        unknown = sorted(set(shaping) - set(INDIRECT_SUBTYPES))
        if unknown:
            raise TypeError(
                f"{function.__qualname__}: indirect lineage by {unknown}; "
                f"the OpenLineage subtypes are {', '.join(INDIRECT_SUBTYPES)}"
            )
        for what, sources in [*declared.items(), *shaping.items()]:
            for source in [sources] if isinstance(sources, str) else sources:
                param, dot, field = source.partition(".")
                if param not in expected or not dot or not field:
                    raise TypeError(
                        f"{function.__qualname__}: {what!r} is declared from {source!r}; "
                        f"a source is '<input>.<column>' with <input> one of {sorted(expected)}"
                    )
        return DataProduct(
            fn=function,
            name=name or function.__name__,
            inputs=mapped,
            landing=tuple(landing),
            columns=declared,
            indirect=shaping,
        )

    return wrap(fn) if fn is not None else wrap


def spark_product(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    inputs: Mapping[str, str] | Sequence[str] = (),
    columns: Mapping[str, str | Sequence[str]] | None = None,
    indirect: Mapping[str, str | Sequence[str]] | None = None,
) -> Any:
    """Declare a Spark producer: like `data_product`, but its inputs are Spark DataFrames read from Delta at
    the pinned versions, and it returns a Spark DataFrame, judged and written by Spark without collecting it.

    The session comes from the location's `spark` resource (master and conf are the operator's, not the domain's).
    """

    def wrap(function: Callable[..., Any]) -> DataProduct:
        declared = data_product(function, name=name, inputs=inputs, columns=columns, indirect=indirect)
        return replace(declared, engine="spark")

    return wrap(fn) if fn is not None else wrap


def _returned(product: DataProduct, contract: Contract, data: Any) -> Any:
    """What the function returned, refused with the producer's name when it is not its engine's DataFrame."""
    from lakemesh.producers.batches import is_spark_dataframe

    if product.engine == "spark" and not is_spark_dataframe(data):
        where = f"{product.fn.__module__}.{product.fn.__qualname__}"
        raise TypeError(
            f"{contract.name}: the Spark producer {where} returned {type(data).__module__}.{type(data).__name__}, "
            "not a Spark DataFrame; nothing was published"
        )
    return data


def python_product_asset(product: DataProduct, contract: Contract, *, settings: Settings) -> dg.AssetsDefinition:
    """A Dagster asset that runs a `@data_product` function and publishes what it returns."""
    kinds = {"python", "polars"} if product.engine == "python" else {"python", "spark"}
    spec = product_spec(contract, settings=settings, deps=list(product.inputs.values()), kinds=kinds)

    @dg.multi_asset(
        name=f"{contract.domain}__{contract.product}",
        specs=[spec.replace_attributes(code_version=product.code_version())],
        check_specs=check_specs(contract),
        can_subset=True,
        required_resource_keys={"spark"} if product.engine == "spark" else set(),
    )
    def _asset(context: AssetExecutionContext):
        run_settings = Settings.from_env(project_dir=settings.project_dir)  # the env of this run decides
        if not context.selected_asset_keys:  # only checks selected: judge what is published, rebuild nothing
            yield from current_check_results(context, contract, settings=run_settings)
            return
        pinned = pin_inputs(list(product.inputs.values()), settings=run_settings, reader=contract.name)
        frames: dict[str, Any] = {
            param: _read_input(context, product, run_settings.table_uri(upstream), pinned[upstream], run_settings)
            for param, upstream in product.inputs.items()
        }
        frames |= {table: read_landing(run_settings.landing, table).lazy() for table in product.landing}
        refs = {
            param: InputRef.of_product(upstream, settings=run_settings, version=pinned[upstream])
            for param, upstream in product.inputs.items()
        }
        refs |= {
            t: InputRef(namespace="file", name=str(landing_path(run_settings.landing, t))) for t in product.landing
        }
        context.log.info(f"{contract.name}: inputs {json.dumps(pinned)}, landing {list(product.landing)}")
        with reading_as(contract.domain):  # lakemesh.read() inside may reach other domains' public products only
            data = _returned(product, contract, product.fn(**frames))
        try:
            yield from publish_events(
                context,
                data,
                contract=contract,
                settings=run_settings,
                code_version=product.code_version(),
                inputs=pinned,
                extra_inputs=[refs[t] for t in product.landing],
                column_lineage=declared_column_lineage(product.columns, inputs=refs),
                dataset_lineage=declared_dataset_lineage(product.indirect, inputs=refs),
            )
        finally:
            if product.engine == "spark":  # what Spark itself saw of the run: after the publish's own events
                forward_spark_lineage(settings=run_settings)

    return _asset


def _read_input(
    context: AssetExecutionContext, product: DataProduct, uri: str, version: int, settings: Settings
) -> Any:
    """One pinned input: a polars LazyFrame, or a Spark DataFrame for a Spark producer."""
    if product.engine == "spark":
        from lakemesh.storage.spark_delta import read_spark_table

        return read_spark_table(context.resources.spark.session(), uri, version=version)
    return read_table(uri, version=version, storage_options=settings.storage_options)
