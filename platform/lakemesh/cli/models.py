"""`lakemesh models ...`: the registered models, their versions, aliases, metrics and training inputs.

MLflow loads inside the commands, never when the CLI starts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from lakemesh.cli.console import console
from lakemesh.settings import Settings

if TYPE_CHECKING:
    from lakemesh.ml.registry import ModelRegistry

__all__ = ["models_app"]

models_app = typer.Typer(
    help="Look up registered models: versions, aliases, metrics, training inputs.", no_args_is_help=True
)


def _registry(settings: Settings) -> ModelRegistry:
    from lakemesh.ml.registry import ModelRegistry

    registry = ModelRegistry.for_settings(settings)
    registry.check_reachable()
    return registry


def _when(millis: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(millis / 1000))


@models_app.command("list")
def models_list() -> None:
    """Every registered model with its newest version and where its aliases point."""
    registry = _registry(Settings.from_env())
    table = Table()
    for column in ("model", "versions", "newest", "aliases", "validation metrics", "registered (UTC)"):
        table.add_column(column)
    for name in registry.models():
        versions = registry.versions(name)
        if not versions:  # a model whose only version's registration failed
            table.add_row(name, "0", "-", "-", "-", "-")
            continue
        newest = versions[0]
        aliases = ", ".join(f"{a}={v.version}" for v in versions for a in v.aliases)
        metrics = ", ".join(f"{k.removeprefix('validation_')} {v:.4f}" for k, v in sorted(newest.metrics.items())
                            if k.startswith("validation_"))  # fmt: skip
        table.add_row(name, str(len(versions)), str(newest.version), aliases or "-", metrics, _when(newest.created))
    console.print(table)
    console.print(f"tracking store: {registry.uri}")


@models_app.command("show")
def models_show(model: str) -> None:
    """A model's versions: aliases, metrics, device, the Delta version of every input, the run that trained it."""
    registry = _registry(Settings.from_env())
    if model not in registry.models():
        console.print(f"[red]no registered model {model!r} in {registry.uri}")
        raise typer.Exit(1)
    for version in registry.versions(model):
        aliases = f"  @{', @'.join(version.aliases)}" if version.aliases else ""
        console.print(
            f"[bold]{model} version {version.version}[/bold]{aliases}   registered {_when(version.created)} UTC"
        )
        inputs = {
            k.removeprefix("lakemesh.input."): v for k, v in version.tags.items() if k.startswith("lakemesh.input.")
        }
        console.print(
            f"  device: {version.tags.get('lakemesh.device', '-')}   "
            f"dagster run: {version.tags.get('lakemesh.dagster_run_id', '-')}   mlflow run: {version.run_id}"
        )
        console.print(f"  trained on: {', '.join(f'{p} v{v}' for p, v in inputs.items()) or '-'}   "
                      f"digest: {version.tags.get('lakemesh.training_digest', '-')[:16]}")  # fmt: skip
        console.print("  metrics: " + ", ".join(f"{k} {v:g}" for k, v in sorted(version.metrics.items())))
        console.print(
            f"  features: {version.params.get('feature_columns', '-')}   split: {version.params.get('split')}"
        )
