"""What `run` prints when it is over: the products as they stand, and where the time went."""

from collections.abc import Iterable, Mapping
from typing import Protocol

from rich import box
from rich.table import Table

__all__ = ["ProductLine", "products_table", "timings_line"]


class ProductLine(Protocol):
    """One product as the summary shows it: what the mesh's status of a product must offer."""

    @property
    def name(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def rows(self) -> int | None: ...
    @property
    def version(self) -> int | None: ...
    @property
    def contract_version(self) -> str: ...
    @property
    def checks(self) -> str: ...


def products_table(products: Iterable[ProductLine], *, lakehouse: str) -> Table:
    """Every product with its owner, rows, Delta version, contract version and check results."""
    table = Table(title=f"Lakemesh products in {lakehouse}", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("product", no_wrap=True)
    table.add_column("owner")
    table.add_column("rows", justify="right")
    table.add_column("ver", justify="right")
    table.add_column("contract")
    table.add_column("checks", overflow="fold")
    for product in products:
        table.add_row(
            product.name,
            product.owner,
            f"{product.rows:,}" if product.rows is not None else "-",
            str(product.version) if product.version is not None else "-",
            product.contract_version,
            product.checks,
        )
    return table


def timings_line(timings: Mapping[str, float], *, wall: float, in_steps: float) -> str:
    """Wall time split into generating, loading and materializing; materializing split into steps and the rest."""
    overhead = timings["materialize"] - in_steps
    return (
        f"wall {wall:.1f}s: generate {timings['generate']:.1f}s, "
        f"load {timings['load']:.1f}s, materialize {timings['materialize']:.1f}s "
        f"(asset steps {in_steps:.1f}s, orchestration {overhead:.1f}s)"
    )
