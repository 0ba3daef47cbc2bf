"""Commands that build the mesh: fill the landing zone, prepare dbt, and run every domain's assets.

Dagster, dbt and the sample's generator load inside the commands, never when the CLI starts.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from lakemesh.cli.catalog import report_reconcile
from lakemesh.cli.console import console
from lakemesh.cli.lakehouse import check_scale_factor, record_scale_factor
from lakemesh.cli.summary import products_table, timings_line
from lakemesh.cli.tables import print_json
from lakemesh.errors import in_one_line
from lakemesh.settings import Settings

if TYPE_CHECKING:
    from lakemesh.orchestration.mesh import BackfillRequest

__all__ = ["run_app"]

run_app = typer.Typer()


@run_app.command()
def generate(
    scale_factor: Annotated[float, typer.Option("--scale-factor", "-s")] = 0.1,
    until: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="land the data that arrives by the day up to this day (1995-06-30); days landed before are kept",
            show_default="every day",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="replace what has landed, every day of it")] = False,
) -> None:
    """Fill the landing zone with the project's landing generator (the sample's TPC-H, orders by the day)."""
    from lakemesh.storage.landing import landing_generator, last_landed_day

    settings = Settings.from_env()
    started = time.perf_counter()
    landing_generator(settings.project_dir)(
        settings.landing, scale_factor=scale_factor, until=until.date() if until else None, force=force
    )
    last = last_landed_day(settings.landing)
    through = f" through {last}" if last else ""
    console.print(
        f"landing data at scale factor {scale_factor:g}{through} in {settings.landing} "
        f"({time.perf_counter() - started:.1f}s)",
        highlight=False,
    )


@run_app.command()
def prepare() -> None:
    """Generate the dbt sources from the contract files and compile the dbt project (the manifest Dagster loads)."""
    from lakemesh.producers.dbt_project import prepare_dbt

    project = prepare_dbt(Settings.from_env())
    console.print(f"dbt manifest ready: {len(project.models)} models")


@run_app.command()
def run(
    scale_factor: Annotated[float, typer.Option("--scale-factor", "-s")] = 0.1,
    regenerate: bool = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="stream Dagster's and dbt's messages too")] = False,
    select: Annotated[
        str | None,
        typer.Option(
            "--select",
            help="Dagster asset selection: sales.orders, +sales.revenue_by_nation (and its inputs), sales.orders+ "
            "(and its readers), group:sales, kind:dbt; the rest is read at its published versions",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the summary as JSON on stdout; progress on stderr")] = False,
) -> None:
    """Fill the landing zone, materialize every asset of every domain (or those selected), and print the products.

    Dagster's and dbt's messages go to a run log file (its path is printed); a failed step prints its whole reason.
    """
    from lakemesh.storage.landing import landing_generator, landing_is_empty

    settings = _started(as_json=as_json)
    check_scale_factor(settings, scale_factor)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if regenerate or landing_is_empty(settings.landing):  # what has landed is the run's input, as it is
        with console.status(f"generating landing data at scale factor {scale_factor:g}"):
            landing_generator(settings.project_dir)(settings.landing, scale_factor=scale_factor, force=regenerate)
    record_scale_factor(settings, scale_factor)
    timings["generate"] = time.perf_counter() - started
    _materialize(settings, select=select, verbose=verbose, as_json=as_json, timings=timings, started=started)


@run_app.command()
def backfill(
    product: Annotated[str, typer.Argument(help="a partitioned product, <domain>.<product>", show_default=False)],
    first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="the first day", show_default=False)],
    last: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="the last day (included)", show_default=False)
    ],
    downstream: Annotated[bool, typer.Option(help="and the partitions of its dependants that read them")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="stream Dagster's and dbt's messages too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="the summary as JSON on stdout; progress on stderr")] = False,
) -> None:
    """Rebuild the partitions of a product holding these days, built or not (a Dagster backfill: a range is one
    run, one commit per product, and the UI's Backfills page shows it); the rest is read at its published versions.
    """
    from lakemesh.orchestration.mesh import BackfillRequest

    started = time.perf_counter()
    request = BackfillRequest(product=product, first=first.date(), last=last.date(), downstream=downstream)
    settings = _started(as_json=as_json)
    timings = {"generate": 0.0}
    _materialize(settings, backfill_request=request, verbose=verbose, as_json=as_json, timings=timings, started=started)


def _started(*, as_json: bool) -> Settings:
    """The settings of a command that builds, with dbt warming up on the other core (and the console on stderr
    when stdout is the JSON's alone)."""
    from lakemesh.producers.dbt_worker import dbt_worker

    if as_json:
        console.file = sys.stderr
    settings = Settings.from_env()
    dbt_worker().start(project_dir=settings.project_dir / "dbt_project")
    return settings


def _materialize(
    settings: Settings,
    *,
    select: str | None = None,
    backfill_request: BackfillRequest | None = None,
    verbose: bool,
    as_json: bool,
    timings: dict[str, float],
    started: float,
) -> None:
    """Load the code locations, run the catch-up (or the selection, or the backfill) with its progress, reconcile
    the catalog and print the products; exit 1 when a location did not load or a run failed."""
    import dagster as dg

    from lakemesh.cli.progress import RunProgress, step_seconds
    from lakemesh.orchestration.mesh import load_workspace, materialize_mesh, select_assets
    from lakemesh.orchestration.recording import prepare_instance_home
    from lakemesh.orchestration.status import mesh_status

    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.logs_dir / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per model load broke the table
    _into_run_log(log_file, "mlflow", "alembic", "py4j")  # their INFO, warnings and tracebacks: not the console
    signal.signal(signal.SIGTERM, _interrupt)  # a killed run ends like Ctrl-C: the run is marked, dbt stops
    unloaded: dict[str, str] = {}
    with console.status("loading code locations"):
        locations = load_workspace(settings.project_dir, errors=unloaded)
    for location, reason in unloaded.items():
        console.print(Text.assemble((f"code location {location} did not load:", "red"), f" {reason}"))
    if not locations:
        if as_json:
            print_json({"success": False, "unloaded": unloaded, "products": []})
        raise typer.Exit(1)
    selected = select_assets(locations, select) if select is not None else None
    timings["load"] = time.perf_counter() - started - timings["generate"]
    console.print(f"run log: {log_file}", highlight=False, soft_wrap=True)

    with RunProgress(console=console) as progress:
        # Run in memory (a SQLite instance costs ~10 ms an event, and a run has hundreds) and recorded as it goes
        # in the project's Dagster instance, the UI's: the run, its steps, materializations and check results.
        home = Path(os.environ.get("DAGSTER_HOME") or settings.project_dir / ".dagster")
        prepare_instance_home(home)
        with dg.DagsterInstance.ephemeral() as instance:
            materialize_started = time.perf_counter()
            result = materialize_mesh(
                locations,
                instance=instance,
                log_file=log_file,
                selected=selected,
                backfill_request=backfill_request,
                echo=verbose,
                on_event=progress.on_event,
                record_into=home,
                settings=settings,
                on_plan=lambda plan: progress.start(total=sum(len(build.keys) for build in plan)),
            )
            timings["materialize"] = time.perf_counter() - materialize_started
            if not result.recorded:
                console.print(Text("the Dagster UI does not show all of this run: see the run log", style="yellow"))
            in_steps = sum(step_seconds(instance, run_id=run_id) for run_id in result.run_ids)
        progress.finish()
    from lakemesh.catalog.reconcile import reconcile
    from lakemesh.compute.spark import stop_spark_session
    from lakemesh.lineage.listener import forward_abandoned_listener_events

    stop_spark_session(settings=settings)  # the Spark application's run ends in the catalog with the run
    try:
        forward_abandoned_listener_events(settings=settings)  # what the Spark listeners of killed runs left
        reconciled = reconcile(settings, finished_runs=set(result.run_ids))  # what a killed step left behind
    except Exception as error:  # the products stand; the catalog catches up with `lakemesh catalog reconcile`
        console.print(Text(f"catalog not reconciled: {in_one_line(error)}", style="yellow"))
    else:
        news = (reconciled.recorded, reconciled.restated, reconciled.retired, reconciled.aborted, reconciled.problems)
        if any(news) or reconciled.waiting:
            report_reconcile(reconciled)

    if backfill_request is not None:  # the summary names what the backfill was to build
        selected = frozenset(key for build in result.planned for key in build.keys)
    statuses = mesh_status(settings, run=result, unloaded=unloaded, selected=selected)
    wall = time.perf_counter() - started
    if as_json:
        seconds = {**timings, "wall": wall, "asset_steps": in_steps}
        print_json(
            {
                "success": result.success and not unloaded,
                "unloaded": unloaded,
                "run_ids": result.run_ids,
                "run_log": str(log_file),
                "lakehouse": settings.lakehouse,
                "products": statuses,
                "seconds": {k: round(v, 3) for k, v in seconds.items()},
            }
        )
    else:
        console.print(products_table(statuses, lakehouse=settings.lakehouse, width=console.width))
        console.print(timings_line(timings, wall=wall, in_steps=in_steps))
    if not result.success or unloaded:
        console.print(f"run log: {log_file}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _into_run_log(log_file: Path, *loggers: str) -> None:
    """Send what these libraries log to the run log, not the console (MLflow configures its own handler)."""
    os.environ["MLFLOW_CONFIGURE_LOGGING"] = "false"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in loggers:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
