"""What a producer step reads: every upstream product pinned at its current Delta version for the whole step, and
for a partitioned build, only the days its partitions read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from lakemesh.contracts import Contract
from lakemesh.errors import ProductNotFound
from lakemesh.settings import Settings
from lakemesh.storage.commit import PartitionWindow
from lakemesh.storage.delta import current_version

__all__ = ["PartitionReads", "pin_inputs"]


@dataclass(frozen=True, kw_only=True)
class PartitionReads:
    """What a build of some partitions reads: these days of the landing tables that arrive by the day, and the
    rows of its partitioned inputs whose partition column falls in them (as many partitions back as its lookback)."""

    days: tuple[date, date]
    """`[first, end)`."""
    inputs: Mapping[str, Contract]

    @classmethod
    def of(
        cls, contract: Contract, partitions: tuple[str, str] | None, *, inputs: Mapping[str, Contract]
    ) -> PartitionReads | None:
        """For a build of the partitions `partitions` (first and last key) of `contract`'s product; None for a
        whole build, which reads everything."""
        partitioning = contract.partitioning
        if partitioning is None or partitions is None:
            return None
        return cls(days=partitioning.reads(*partitioning.span(*partitions)), inputs=inputs)

    def rows(self, product: str) -> PartitionWindow | None:
        """The rows of input `product` the build reads; None for an input without partitions (read whole)."""
        upstream = self.inputs.get(product)
        if upstream is None or upstream.partitioning is None:
            return None
        first, end = self.days
        return PartitionWindow(key=f"{first}...{end}", column=upstream.partitioning.column, first=first, end=end)


def pin_inputs(products: Sequence[str], *, settings: Settings, reader: str) -> dict[str, int]:
    """The current Delta version of every upstream product, refusing unpublished ones."""
    pinned = {}
    for product in products:
        version = current_version(settings.table_uri(product), storage_options=settings.storage_options)
        if version is None:
            raise ProductNotFound(f"{reader} reads {product}, which has never been published; materialize it first")
        pinned[product] = version
    return pinned
