"""`lakemesh models ...`: the registered models, their versions, aliases, metrics and training inputs.

MLflow loads inside the commands, never when the CLI starts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from lakemesh.cli.console import console
from lakemesh.cli.tables import Column, print_rows
from lakemesh.errors import LakemeshError, did_you_mean
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


_LIST_COLUMNS = (
    Column("model", "model"),
    Column("versions", "versions", justify="right", drop=2),
    Column("newest", "newest", justify="right"),
    Column("aliases", "aliases"),
    Column("validation metrics", "metrics", wraps=True),
    Column("registered (UTC)", "registered", drop=1),
)


@models_app.command("list")
def models_list(as_json: Annotated[bool, typer.Option("--json", help="the models as JSON, for scripts")] = False):
    """Every registered model with its newest version and where its aliases point."""
    registry = _registry(Settings.from_env())
    records = []
    for name in registry.models():
        versions = registry.versions(name)
        newest = versions[0] if versions else None  # none: a model whose only version's registration failed
        records.append(
            {
                "model": name,
                "versions": len(versions),
                "newest": newest.version if newest else None,
                "aliases": {a: v.version for v in versions for a in v.aliases},
                "metrics": {
                    k.removeprefix("validation_"): v
                    for k, v in sorted((newest.metrics if newest else {}).items())
                    if k.startswith("validation_")
                },
                "registered": _when(newest.created) if newest else None,
            }
        )
    rows = [
        [
            r["model"],
            str(r["versions"]),
            str(r["newest"] or "-"),
            ", ".join(f"{a}={v}" for a, v in r["aliases"].items()) or "-",
            ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items()) or "-",
            r["registered"] or "-",
        ]
        for r in records
    ]
    print_rows(_LIST_COLUMNS, rows, records=records, as_json=as_json)
    if not as_json:
        console.print(f"tracking store: {registry.uri}", highlight=False, soft_wrap=True)


@models_app.command("show")
def models_show(model: str) -> None:
    """A model's versions: aliases, metrics, device, the Delta version of every input, the run that trained it."""
    registry = _registry(Settings.from_env())
    if model not in (known := registry.models()):
        raise LakemeshError(f"no registered model {model!r} in {registry.uri}{did_you_mean(model, known)}")
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
