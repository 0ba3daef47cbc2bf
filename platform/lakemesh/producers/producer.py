"""What the platform knows of anything that makes a product: a Python or Spark function, a dbt model, a model.

`load_domain` checks every producer against its contract the same way, and
the orchestration turns each into Dagster assets by its type. A producer's
step reads its inputs at the versions pinned for it and returns a
`ProductBuild`: the data and where it came from, which `publish` takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from lakemesh.contracts import Contract
from lakemesh.lineage import ColumnInput, InputRef

__all__ = ["Producer", "ProductBuild"]


@runtime_checkable
class Producer(Protocol):
    """Something that makes one product of its domain from declared inputs."""

    @property
    def product(self) -> str:
        """The product it publishes, `<domain>.<product>`."""
        ...

    @property
    def kind(self) -> str:
        """What the product's contract names as its producer: `python`, `spark`, `dbt` or `model`."""
        ...

    @property
    def reads(self) -> Sequence[str]:
        """The products it reads, `<domain>.<product>` each."""
        ...

    def in_domain(self, domain: str) -> Producer:
        """The producer as declared in `domain`'s code location (a Python function learns its domain here)."""
        ...

    def check(self, contract: Contract, *, contracts: Mapping[str, Contract]) -> None:
        """Refuse (`DefinitionsInvalid`) a declaration that does not fit its contract or its inputs' contracts."""
        ...


@dataclass(frozen=True, kw_only=True)
class ProductBuild:
    """What one producer step made, on its way to `publish`: the data, its pinned inputs and its lineage."""

    data: Any
    inputs: Mapping[str, int]
    """The Delta version read of every upstream product."""
    code_version: str
    extra_inputs: Sequence[InputRef] = ()
    """Datasets read that are not products (landing files, a registered model)."""
    column_lineage: Mapping[str, Sequence[ColumnInput]] | None = None
    dataset_lineage: Sequence[ColumnInput] = ()
