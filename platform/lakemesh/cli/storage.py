"""Commands on the products' Delta tables: read one, maintain them all.

deltalake and polars load inside the commands, never when the CLI starts.
"""

import dataclasses
from typing import Annotated

import typer

from lakemesh.cli.console import console
from lakemesh.cli.tables import JSON_OPTION, Column, print_json, print_rows
from lakemesh.errors import ProductNotFound, did_you_mean
from lakemesh.settings import Settings, split_product_name

__all__ = ["storage_app"]

storage_app = typer.Typer()


@storage_app.command()
def read(
    product: str,
    version: Annotated[int | None, typer.Option(min=0)] = None,
    limit: Annotated[int, typer.Option(min=0)] = 10,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Print the first rows of a published product."""
    from lakemesh.storage.reader import read as read_product

    settings = Settings.from_env()
    split_product_name(product)  # a name that is no product name at all is said so first
    if settings.project_root is not None and product not in (known := settings.contract_paths()):
        raise ProductNotFound(f"no product {product!r} in {settings.project_root}{did_you_mean(product, known)}")
    rows = read_product(product, version=version, settings=settings).head(limit)
    if as_json:
        print_json(rows.to_dicts())
        return
    console.print(rows)


_MAINTAIN_COLUMNS = (
    Column("product", "product", wraps=True),
    Column("version", "version", justify="right"),
    Column("oldest", "oldest_kept", justify="right"),  # the oldest version still readable
    Column("compacted", "compacted_files", justify="right"),
    Column("removed", "removed_files", justify="right"),
)


@storage_app.command()
def maintain(
    products: Annotated[list[str] | None, typer.Argument(help="<domain>.<product> (default: every product)")] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Compact, checkpoint and vacuum products beyond their contracts' retention; remove orphan files."""
    from lakemesh.contracts import load_contracts
    from lakemesh.storage.maintenance import maintain_products

    settings = Settings.from_env()
    contracts = load_contracts(settings.project_dir / "contracts")
    unknown = sorted(set(products or ()) - set(contracts))
    if unknown:
        raise ProductNotFound(f"no contract for {', '.join(unknown)} in {settings.project_dir / 'contracts'}")
    chosen = [contracts[name] for name in products] if products else list(contracts.values())
    done = maintain_products(chosen, settings=settings)
    records = []
    for d in done:
        domain, *quarantine, name = d.uri.removeprefix(settings.lakehouse + "/").split("/")
        records.append({"product": f"{domain}.{name}", "table": "quarantine" if quarantine else "product",
                        **dataclasses.asdict(d)})  # fmt: skip
    rows = [
        [f"{r['product']} (quarantine)" if r["table"] == "quarantine" else r["product"], str(r["version"]),
         str(r["oldest_kept"]), str(r["compacted_files"]), str(r["removed_files"])]
        for r in records
    ]  # fmt: skip
    print_rows(_MAINTAIN_COLUMNS, rows, records=records, as_json=as_json, title="storage maintenance")
