"""`lakemesh models ...`: the registered models, their versions, aliases, metrics and training inputs.

MLflow loads inside the commands, never when the CLI starts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from lakemesh.cli.console import console
from lakemesh.cli.tables import JSON_OPTION, Column, print_json, print_rows
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


def _when(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).replace(microsecond=0)


def _shown(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


_LIST_COLUMNS = (
    Column("model", "model"),
    Column("versions", "versions", justify="right", drop=2),
    Column("newest", "newest", justify="right"),
    Column("aliases", "aliases"),
    Column("validation metrics", "metrics", wraps=True),
    Column("registered (UTC)", "registered", drop=1),
)


@models_app.command("list")
def models_list(as_json: Annotated[bool, JSON_OPTION] = False):
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
            _shown(r["registered"]) if r["registered"] else "-",
        ]
        for r in records
    ]
    print_rows(_LIST_COLUMNS, rows, records=records, as_json=as_json)
    if not as_json:
        console.print(f"tracking store: {registry.uri}", highlight=False, soft_wrap=True)


@models_app.command("show")
def models_show(model: str, as_json: Annotated[bool, JSON_OPTION] = False) -> None:
    """A model's versions: aliases, metrics, device, the Delta version of every input, the run that trained it."""
    registry = _registry(Settings.from_env())
    if model not in (known := registry.models()):
        raise LakemeshError(f"no registered model {model!r} in {registry.uri}{did_you_mean(model, known)}")
    records = [
        {
            "version": version.version,
            "aliases": list(version.aliases),
            "registered": _when(version.created),
            "device": version.tags.get("lakemesh.device"),
            "trained_on": {
                k.removeprefix("lakemesh.input."): v for k, v in version.tags.items() if k.startswith("lakemesh.input.")
            },
            "metrics": dict(sorted(version.metrics.items())),
            "features": [f for f in version.params.get("feature_columns", "").split(",") if f],
            "split": version.params.get("split"),
            "training_digest": version.tags.get("lakemesh.training_digest"),
            "dagster_run": version.tags.get("lakemesh.dagster_run_id"),
            "mlflow_run": version.run_id,
        }
        for version in registry.versions(model)
    ]
    if as_json:
        print_json(records)
        return
    for r in records:
        aliases = f"  @{', @'.join(r['aliases'])}" if r["aliases"] else ""
        console.print(f"[bold]{model} v{r['version']}[/bold]{aliases}", highlight=False)
        details = Table.grid(padding=(0, 2))
        details.add_column(no_wrap=True, style="dim")
        details.add_column(overflow="fold")  # wraps between words; folds only a word wider than the terminal
        for label, value in (
            ("registered", f"{_shown(r['registered'])} UTC"),
            ("device", r["device"] or "-"),
            ("trained on", ", ".join(f"{p} v{v}" for p, v in r["trained_on"].items()) or "-"),
            ("metrics", ", ".join(f"{k} {v:g}" for k, v in r["metrics"].items()) or "-"),
            ("features", ", ".join(r["features"]) or "-"),
            ("split", r["split"] or "-"),
            ("digest", (r["training_digest"] or "-")[:16]),
            ("dagster run", r["dagster_run"] or "-"),
            ("mlflow run", r["mlflow_run"]),
        ):
            details.add_row(label, Text(value))
        console.print(Padding(details, (0, 0, 0, 2), expand=False))
