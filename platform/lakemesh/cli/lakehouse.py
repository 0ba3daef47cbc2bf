"""The local lakehouse as a whole: which landing data its products were built from, and `lakemesh reset`.

A run at another scale factor regenerates the landing zone; products that
append or merge would then mix rows of both (1,500,000 orders beside 15,000
customers). So `lakemesh run` records the scale factor its products were built
from, and refuses another one until the lakehouse is reset.
"""

import shutil
from pathlib import Path
from typing import Annotated

import typer

from lakemesh.cli.console import console
from lakemesh.errors import LakemeshError
from lakemesh.settings import Settings

__all__ = ["check_scale_factor", "lakehouse_app", "record_scale_factor"]

lakehouse_app = typer.Typer()

_SCALE_FACTOR = "_scale_factor"
"""In the lakehouse's local folder: the scale factor of the landing data its products were built from."""
_SIDECARS = ("_landing", "_catalog.sqlite", _SCALE_FACTOR, "_outbox", "_logs")
"""What only a Lakemesh lakehouse holds: `reset` removes no folder without one of them."""


def check_scale_factor(settings: Settings, scale_factor: float) -> None:
    """Refuse a run at another scale factor than the one the lakehouse's products were built from."""
    marker = settings.local_dir / _SCALE_FACTOR
    built = float(marker.read_text()) if marker.is_file() else None
    if built is None or built == scale_factor or not _has_products(settings):
        return
    raise LakemeshError(
        f"this lakehouse's products were built from landing data at scale factor {built:g}, and this run asks "
        f"for {scale_factor:g}: products that append or merge would mix rows of both. Run `lakemesh reset` to "
        f"rebuild at {scale_factor:g}, or run with --scale-factor {built:g}; nothing was changed"
    )


def record_scale_factor(settings: Settings, scale_factor: float) -> None:
    """Note the scale factor of the landing data this run builds products from."""
    settings.local_dir.mkdir(parents=True, exist_ok=True)
    (settings.local_dir / _SCALE_FACTOR).write_text(f"{scale_factor:g}")


def _has_products(settings: Settings) -> bool:
    from lakemesh.storage.delta import current_version

    return any(
        current_version(settings.table_uri(name), storage_options=settings.storage_options) is not None
        for name in settings.contract_paths()
    )


@lakehouse_app.command()
def reset(yes: Annotated[bool, typer.Option("--yes", "-y", help="remove without asking")] = False) -> None:
    """Remove the local lakehouse: every product, the landing data, the catalog, the model registry, the logs."""
    settings = Settings.from_env()
    if "://" in settings.lakehouse:
        raise LakemeshError(f"`lakemesh reset` removes a local lakehouse only; {settings.lakehouse} is not local")
    root = Path(settings.lakehouse)
    if not root.exists():
        console.print(f"nothing to remove: there is no lakehouse at {root}", highlight=False)
        return
    if not any((root / name).exists() for name in _SIDECARS):
        raise LakemeshError(
            f"{root} does not look like a Lakemesh lakehouse (none of {', '.join(_SIDECARS)} in it); "
            "nothing was removed"
        )
    question = f"Remove the lakehouse at {root}: every product, the landing data, the catalog, the model registry?"
    if not yes and not typer.confirm(question, default=False):
        console.print("nothing was removed")
        raise typer.Exit(1)
    shutil.rmtree(root)
    console.print(f"removed the lakehouse at {root}", highlight=False)
    kept = [str(p) for p in (settings.landing, settings.duckdb_dir, settings.outbox_dir) if p.exists()]
    if settings.catalog_url.startswith("sqlite:///") and Path(settings.catalog_url.removeprefix("sqlite:///")).exists():
        kept.append(settings.catalog_url)
    if kept:
        console.print(f"kept, being outside it: {', '.join(kept)}", highlight=False)
