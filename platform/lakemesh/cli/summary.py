"""What `run` prints when it is over: the products as they stand, and where the time went."""

from collections.abc import Iterable, Mapping
from typing import Protocol

from rich.console import RenderableType

from lakemesh.cli.tables import Column, fitted_table

__all__ = ["SUMMARY_COLUMNS", "ProductLine", "products_table", "timings_line"]


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
    @property
    def built(self) -> str: ...
    @property
    def newest(self) -> str: ...


SUMMARY_COLUMNS = (
    Column("product", "product"),
    Column("owner", "owner", drop=1),
    Column("rows", "rows", justify="right"),
    Column("ver", "version", justify="right"),
    Column("contract", "contract_version", drop=2),
    Column("built", "built", drop=3),
    Column("newest", "newest", drop=4),
    Column("checks", "checks", wraps=True),
)


def products_table(products: Iterable[ProductLine], *, lakehouse: str, width: int) -> RenderableType:
    """Every product with its owner, rows, Delta version, contract version, what the run built of it (partitions,
    whole, up to date), its newest partition (and how far behind the landing it is) and check results, in `width`."""
    rows = [
        [
            product.name,
            product.owner,
            f"{product.rows:,}" if product.rows is not None else "-",
            str(product.version) if product.version is not None else "-",
            product.contract_version,
            product.built,
            product.newest,
            product.checks,
        ]
        for product in products
    ]
    return fitted_table(SUMMARY_COLUMNS, rows, width=width, title=f"Lakemesh products in {lakehouse}")


def timings_line(timings: Mapping[str, float], *, wall: float, in_steps: float) -> str:
    """Wall time split into generating, loading and materializing; materializing split into steps and the rest."""
    overhead = timings["materialize"] - in_steps
    return (
        f"wall {wall:.1f}s: generate {timings['generate']:.1f}s, "
        f"load {timings['load']:.1f}s, materialize {timings['materialize']:.1f}s "
        f"(asset steps {in_steps:.1f}s, orchestration {overhead:.1f}s)"
    )
