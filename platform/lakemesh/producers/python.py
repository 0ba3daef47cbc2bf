"""Python producers: a decorated function that returns a DataFrame makes a product.

A domain team writes a function that returns a DataFrame (polars preferred;
pandas and Arrow accepted) and decorates it with `@data_product`, or one that
takes and returns Spark DataFrames and decorates it with `@spark_product`. Its
step reads the inputs from the upstream products' Delta tables at the pinned
versions, calls it, and hands the result to `lakemesh.publish`.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from lakemesh.contracts import Contract
from lakemesh.errors import DefinitionsInvalid
from lakemesh.lineage import INDIRECT_SUBTYPES, InputRef, declared_column_lineage, declared_dataset_lineage
from lakemesh.producers.batches import is_spark_dataframe, polars_rows_in, spark_rows_in
from lakemesh.producers.inputs import PartitionReads
from lakemesh.producers.producer import ProductBuild
from lakemesh.settings import Settings, split_product_name
from lakemesh.storage.commit import PartitionWindow
from lakemesh.storage.delta import read_table
from lakemesh.storage.landing import landing_path, read_landing
from lakemesh.storage.reader import reading_as

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["WINDOW_PARAMETER", "DataProduct", "data_product", "spark_product"]

WINDOW_PARAMETER = "window"
"""A producer function's parameter that receives the `PartitionWindow` it builds, when it declares one."""


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
    domain: str = ""
    """The domain whose code location declares it (set by `in_domain` when the location loads)."""

    def in_domain(self, domain: str) -> DataProduct:
        """This producer as a product of `domain`."""
        return replace(self, domain=domain)

    @property
    def product(self) -> str:
        return f"{self.domain}.{self.name}"

    @property
    def kind(self) -> str:
        return self.engine

    @property
    def reads(self) -> list[str]:
        return list(self.inputs.values())

    def code_version(self) -> str:
        return hashlib.sha256(inspect.getsource(self.fn).encode()).hexdigest()[:16]

    @property
    def takes_window(self) -> bool:
        """Whether the function is told the partitions it builds (a `window` parameter): one whose rows are not
        its inputs' rows of the same days (a ship month of lines ordered months before) filters by it."""
        return WINDOW_PARAMETER in inspect.signature(self.fn).parameters

    def check(self, contract: Contract, *, contracts: Mapping[str, Contract]) -> None:
        """Column lineage may be declared only for columns the contract has; a `window` only for partitions."""
        if self.takes_window and contract.partitioning is None:
            raise DefinitionsInvalid(
                f"{self.product} takes a {WINDOW_PARAMETER!r}, but its contract {contract.path} has no partitions "
                "(no column marked partitioned)"
            )
        unknown = sorted(set(self.columns) - {c.name for c in contract.columns})
        if unknown:
            raise DefinitionsInvalid(
                f"{self.product} declares column lineage for {unknown}, "
                f"which its contract {contract.path} does not have"
            )

    def build(
        self,
        contract: Contract,
        *,
        settings: Settings,
        pinned: Mapping[str, int],
        spark: SparkSource | None = None,
        partitions: tuple[str, str] | None = None,
        inputs: Mapping[str, Contract] | None = None,
    ) -> ProductBuild:
        """Call the function on its inputs at the pinned versions (Spark DataFrames from `spark` for a Spark one).

        With `partitions` (the first and last key of the product's partitions to build), partitioned inputs
        (by their contracts in `inputs`) and landing tables that arrive by the day are read for those
        partitions' days only, reaching back as far as the contract's lookback.
        """
        partitioning = contract.partitioning
        reads = PartitionReads.of(contract, partitions, inputs=inputs or {})
        frames: dict[str, Any] = {
            param: self._read_input(
                settings.table_uri(upstream),
                pinned[upstream],
                settings,
                spark,
                rows=reads.rows(upstream) if reads else None,
            )
            for param, upstream in self.inputs.items()
        }
        days = reads.days if reads else None
        frames |= {table: read_landing(settings.landing, table, days=days).lazy() for table in self.landing}
        if self.takes_window and partitioning is not None:
            frames[WINDOW_PARAMETER] = PartitionWindow.of(partitioning, partitions)
        refs = {
            param: InputRef.of_product(upstream, settings=settings, version=pinned[upstream])
            for param, upstream in self.inputs.items()
        }
        refs |= {t: InputRef(namespace="file", name=str(landing_path(settings.landing, t))) for t in self.landing}
        with reading_as(contract.domain):  # lakemesh.read() inside may reach other domains' public products only
            data = self._returned(contract, self.fn(**frames))
        return ProductBuild(
            data=data,
            inputs=pinned,
            code_version=self.code_version(),
            extra_inputs=[refs[t] for t in self.landing],
            column_lineage=declared_column_lineage(self.columns, inputs=refs),
            dataset_lineage=declared_dataset_lineage(self.indirect, inputs=refs),
        )

    def _read_input(
        self,
        uri: str,
        version: int,
        settings: Settings,
        spark: SparkSource | None,
        *,
        rows: PartitionWindow | None,
    ) -> Any:
        """One pinned input: a polars LazyFrame, or a Spark DataFrame for a Spark producer; with `rows`
        (column, first day, end), only the rows whose column falls in those days."""
        if self.engine == "spark":
            from lakemesh.storage.spark_delta import read_spark_table

            if spark is None:
                raise ValueError(f"{self.product} is a Spark producer: its step needs a Spark session")
            frame = read_spark_table(spark(), uri, version=version)
            return frame.where(spark_rows_in(rows)) if rows is not None else frame
        frame = read_table(uri, version=version, storage_options=settings.storage_options)
        return frame.filter(polars_rows_in(rows)) if rows is not None else frame

    def _returned(self, contract: Contract, data: Any) -> Any:
        """What the function returned, refused with the producer's name when it is not its engine's DataFrame."""
        if self.engine == "spark" and not is_spark_dataframe(data):
            where = f"{self.fn.__module__}.{self.fn.__qualname__}"
            raise TypeError(
                f"{contract.name}: the Spark producer {where} returned "
                f"{type(data).__module__}.{type(data).__name__}, not a Spark DataFrame; nothing was published"
            )
        return data


SparkSource = Callable[[], "SparkSession"]
"""Where a Spark producer's session comes from: called on first use, so a step that reads nothing starts none."""


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
    A partitioned product's function may take `window`: the `PartitionWindow`
    (column, first day, end) it builds, to keep only its rows when its inputs'
    days hold rows of other partitions too.
    `columns` declares column lineage: `{"out_column": "param.in_column"}` (or a
    list of sources), sent to the catalog with every publish. `indirect` declares
    the columns that shape every row without being projected, by how:
    `{"JOIN": [...], "FILTER": "param.in_column", ...}` (OpenLineage INDIRECT
    subtypes), so impact analysis reaches this product through them.
    """

    def wrap(function: Callable[..., Any]) -> DataProduct:
        mapped = dict(inputs) if isinstance(inputs, Mapping) else {split_product_name(p)[1]: p for p in inputs}
        params = set(inspect.signature(function).parameters) - {WINDOW_PARAMETER}
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
