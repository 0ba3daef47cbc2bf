"""The `lakemesh` command: run the mesh, maintain storage, look things up in the catalog, read products.

A `LakemeshError` is printed as its message alone (exit code 2); `--debug`
shows the traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lakemesh.errors import LakemeshError, in_one_line
from lakemesh.settings import Settings

if TYPE_CHECKING:  # the catalog (SQLAlchemy) and the contract model load only for the commands that use them
    from lakemesh.catalog import Catalog, ColumnSource, LineageNode
    from lakemesh.catalog.reconcile import Reconciliation

__all__ = ["app", "main"]

app = typer.Typer(
    help="Lakemesh: contract-guarded Delta Lake data products.", no_args_is_help=True, pretty_exceptions_enable=False
)
catalog_app = typer.Typer(help="Look up products, their runs, checks and lineage.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
models_app = typer.Typer(
    help="Look up registered models: versions, aliases, metrics, training inputs.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
T = TypeVar("T")
console = Console()


_debug = {"on": False}


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks of errors")] = False) -> None:
    _debug["on"] = debug


def main() -> None:
    """The console script: the app, with the platform's errors as one message and exit code 2."""
    try:
        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
    except KeyboardInterrupt:
        Console(stderr=True).print("[red]interrupted[/]")
        code = 130
    except LakemeshError as error:
        if _debug["on"]:
            raise
        Console(stderr=True).print(Text.assemble(("error: ", "red"), str(error)), highlight=False, soft_wrap=True)
        code = 2
    _leave(code)


def _leave(code: int) -> NoReturn:
    """Exit without tearing down the imported modules (about a second after a run): all is committed.

    Delta commits, catalog transactions and the run log are complete when a command returns; what is left
    is flushed here, and the dbt worker stopped, before the process ends.
    """
    if worker := sys.modules.get("lakemesh.producers.dbt_worker"):
        worker.dbt_worker().close()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _settings() -> Settings:
    return Settings.from_env()


@app.command()
def generate(scale_factor: Annotated[float, typer.Option("--scale-factor", "-s")] = 0.1, force: bool = False) -> None:
    """Fill the landing zone with the project's landing generator (the sample's TPC-H)."""
    from lakemesh.storage.landing import landing_generator

    settings = _settings()
    started = time.perf_counter()
    landing_generator(settings.project_dir)(settings.landing, scale_factor=scale_factor, force=force)
    console.print(
        f"landing data at scale factor {scale_factor} in {settings.landing} ({time.perf_counter() - started:.1f}s)"
    )


@app.command()
def prepare() -> None:
    """Generate the dbt sources from the contract files and compile the dbt project (the manifest Dagster loads)."""
    from lakemesh.producers.dbt import prepare_dbt

    manifest = prepare_dbt(_settings())
    console.print(f"dbt manifest ready: {len(manifest['nodes'])} nodes")


@app.command()
def run(
    scale_factor: Annotated[float, typer.Option("--scale-factor", "-s")] = 0.1,
    regenerate: bool = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="stream Dagster's and dbt's messages too")] = False,
) -> None:
    """Fill the landing zone, materialize every asset of every domain, and print the published products.

    Dagster's and dbt's messages go to a run log file (its path is printed); a failed step prints its tail.
    """
    from lakemesh.producers.dbt_worker import dbt_worker

    settings = _settings()
    dbt_worker().start(project_dir=settings.project_dir / "dbt_project")  # dbt warms up on the other core
    import dagster as dg

    from lakemesh.orchestration.mesh import (
        failure_reason,
        load_workspace,
        materialize_mesh,
        mesh_status,
        prepare_instance_home,
    )
    from lakemesh.storage.landing import landing_generator

    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.logs_dir / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per model load broke the table
    signal.signal(signal.SIGTERM, _interrupt)  # a killed run ends like Ctrl-C: the run is marked, dbt stops
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with console.status(f"generating landing data at scale factor {scale_factor}"):
        landing_generator(settings.project_dir)(settings.landing, scale_factor=scale_factor, force=regenerate)
    timings["generate"] = time.perf_counter() - started
    unloaded: dict[str, str] = {}
    with console.status("loading code locations"):
        locations = load_workspace(settings.project_dir, errors=unloaded)
    for location, reason in unloaded.items():
        console.print(f"[red]code location {location} did not load:[/] {reason}", highlight=False)
    if not locations:
        raise typer.Exit(1)
    timings["load"] = time.perf_counter() - started - timings["generate"]
    console.print(f"run log: {log_file}", highlight=False, soft_wrap=True)

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        products = sum(len(list(d.resolve_asset_graph().materializable_asset_keys)) for d in locations.values())
        task = progress.add_task("starting", total=products)

        def on_event(entry: dg.EventLogEntry) -> None:
            event = entry.dagster_event
            product = (event.step_key or "").replace("__", ".", 1)
            if event.event_type == dg.DagsterEventType.STEP_START:
                progress.update(task, description=product)
            elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                progress.advance(task)
                version = event.event_specific_data.materialization.metadata.get("delta_version")
                published = f"v{version.value}" if version else ""
                progress.console.print(f"  [green]published[/] {product} {published}", highlight=False)
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                reason = failure_reason(event.step_failure_data.error)
                progress.console.print(f"  [red]failed[/] {product}: {reason}", highlight=False)
                if not verbose:
                    for line in _failure_tail(event, log_file):
                        progress.console.print(Text(f"    {line}", style="dim", overflow="ellipsis"), no_wrap=True)

        # Recorded in the Dagster instance of DAGSTER_HOME when set (the UI's), else in memory: a SQLite
        # instance costs ~20 ms per event, and a run has hundreds (one per check).
        if home := os.environ.get("DAGSTER_HOME"):
            prepare_instance_home(Path(home))
        with dg.DagsterInstance.get() if home else dg.DagsterInstance.ephemeral() as instance:
            materialize_started = time.perf_counter()
            result = materialize_mesh(locations, instance=instance, log_file=log_file, echo=verbose, on_event=on_event)
            timings["materialize"] = time.perf_counter() - materialize_started
            step_seconds = _step_seconds(instance, result.run_id)
        progress.update(task, description="done")
    from lakemesh.catalog.reconcile import reconcile

    try:
        reconciled = reconcile(settings, finished_runs={result.run_id})  # what a killed step left behind
    except Exception as error:  # the products stand; the catalog catches up with `lakemesh catalog reconcile`
        console.print(f"[yellow]catalog not reconciled: {in_one_line(error)}")
    else:
        if reconciled.recorded or reconciled.aborted or reconciled.waiting or reconciled.problems:
            _report_reconcile(reconciled)

    table = Table(
        title=f"Lakemesh products in {settings.lakehouse}", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    table.add_column("product", no_wrap=True)
    table.add_column("owner")
    table.add_column("rows", justify="right")
    table.add_column("ver", justify="right")
    table.add_column("contract")
    table.add_column("checks", overflow="fold")
    for status in mesh_status(settings, run=result, unloaded=unloaded):
        table.add_row(
            status.name,
            status.owner,
            f"{status.rows:,}" if status.rows is not None else "-",
            str(status.version) if status.version is not None else "-",
            status.contract_version,
            status.checks,
        )
    console.print(table)
    overhead = timings["materialize"] - step_seconds
    console.print(
        f"wall {time.perf_counter() - started:.1f}s: generate {timings['generate']:.1f}s, "
        f"load {timings['load']:.1f}s, materialize {timings['materialize']:.1f}s "
        f"(asset steps {step_seconds:.1f}s, orchestration {overhead:.1f}s)"
    )
    if not result.success or unloaded:
        console.print(f"run log: {log_file}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _failure_tail(event: Any, log_file: Path, lines: int = 8) -> list[str]:
    """What to show under a failed step: dbt's own output when it has some, else the step's last log lines."""
    failure = event.step_failure_data.user_failure_data
    output = failure.metadata.get("dbt_output") if failure else None
    if output is not None:
        return output.value.strip("`\n").splitlines()[-lines:]
    step = [line for line in log_file.read_text(errors="replace").splitlines() if f" - {event.step_key} - " in line]
    return step[-lines:]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _step_seconds(instance, run_id: str) -> float:
    """Time spent inside asset steps, from the run's step start/end events."""
    import dagster as dg

    starts: dict[str, float] = {}
    total = 0.0
    records = instance.get_records_for_run(
        run_id,
        of_type={
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        },
    ).records
    for record in records:
        entry = record.event_log_entry
        if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif entry.step_key in starts:
            total += entry.timestamp - starts.pop(entry.step_key)
    return total


def _catalog(settings: Settings) -> Catalog:
    from lakemesh.catalog import Catalog

    return Catalog(settings.catalog_url)


def _or_exit(lookup: Callable[[], T]) -> T:
    from lakemesh.catalog import NotFound

    try:
        return lookup()
    except (NotFound, ValueError) as exc:  # unknown names, or a depth out of the catalog's range
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None


@catalog_app.command("list")
def catalog_list() -> None:
    """Every product the catalog knows."""
    settings = _settings()
    products = _catalog(settings).products(namespace=settings.namespace)
    table = Table()
    for column in ("product", "owner", "access", "contract", "delta version", "last run"):
        table.add_column(column)
    for p in products:
        table.add_row(
            p.name,
            p.owner or "-",
            p.contract.get("access", "-"),
            p.contract.get("contractVersion", "-"),
            p.current_version or "-",
            p.last_run["state"] if p.last_run else "-",
        )
    console.print(table)


@catalog_app.command("show")
def catalog_show(product: str) -> None:
    """A product's owner, contract, location, current version, last run and check results."""
    settings = _settings()
    p = _or_exit(lambda: _catalog(settings).product(product, namespace=settings.namespace))
    contract = p.contract
    console.print(f"[bold]{p.name}[/bold]  {p.description or ''}")
    console.print(
        f"owner: {p.owner}   access: {contract.get('access')}   "
        f"contract: {contract.get('contractId')} v{contract.get('contractVersion')}"
    )
    console.print(
        f"location: {contract.get('location')}   current Delta version: {p.current_version}   updated: {p.updated_at}"
    )
    if p.last_run:
        run = p.last_run
        console.print(f"last run: {run['id']} {run['state']} at {run['endedAt'] or run['startedAt']}")
        if error := run["facets"].get("errorMessage", {}).get("message"):
            console.print(f"[red]{error}")
    columns = Table(title="columns")
    for column in ("name", "type", "description"):
        columns.add_column(column)
    for field in p.fields:
        columns.add_row(field["name"], field.get("type") or "", field.get("description") or "")
    console.print(columns)
    checks = Table(title="checks (last run)")
    checks.add_column("check")
    checks.add_column("result")
    for name, ok in p.checks.items():
        checks.add_row(name, "[green]passed" if ok else "[red]failed")
    console.print(checks)


def _registry(settings: Settings):
    from lakemesh.ml.registry import ModelRegistry

    registry = ModelRegistry.for_settings(settings)
    registry.check_reachable()
    return registry


def _when(millis: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(millis / 1000))


@models_app.command("list")
def models_list() -> None:
    """Every registered model with its newest version and where its aliases point."""
    registry = _registry(_settings())
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
    registry = _registry(_settings())
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


@catalog_app.command("lineage")
def catalog_lineage(
    target: Annotated[str, typer.Argument(help="<domain>.<product>, or <domain>.<product>.<column>")],
    upstream: Annotated[bool, typer.Option("--upstream/--downstream")] = True,
    depth: Annotated[int, typer.Option(min=0, help="hops to follow (at most the catalog's MAX_DEPTH, 100)")] = 3,
) -> None:
    """Where a product comes from (--upstream) or who reads it (--downstream); for a column, its source columns."""
    from lakemesh.catalog import column_sources, product_lineage

    settings = _settings()
    catalog = _catalog(settings)
    parts = target.split(".")
    if len(parts) == 3:
        product, column = ".".join(parts[:2]), parts[2]
        source = _or_exit(lambda: column_sources(catalog, product, column, namespace=settings.namespace))
        tree = Tree(f"[bold]{product}.{column}")
        _grow_columns(tree, source)
        console.print(tree)
        return
    root = _or_exit(
        lambda: product_lineage(
            catalog,
            target,
            direction="upstream" if upstream else "downstream",
            depth=depth,
            namespace=settings.namespace,
        )
    )
    tree = Tree(f"[bold]{root.name}")
    _grow(tree, root)
    console.print(tree)


_SHOWN_ABOVE = "  [dim]… (shown above)"


def _grow(tree: Tree, node: LineageNode) -> None:
    for child in node.children:
        label = child.name if child.namespace.startswith("lakemesh://") else f"{child.namespace}:{child.name}"
        _grow(tree.add(f"{label}  [dim](via {child.via_job})" + (_SHOWN_ABOVE if child.repeated else "")), child)


def _grow_columns(tree: Tree, node: ColumnSource) -> None:
    for source in node.inputs:
        dataset = source.dataset if source.namespace.startswith("lakemesh://") else source.dataset.rsplit("/", 1)[-1]
        how = f"  [dim]({source.transformation.lower()})" if source.transformation else ""
        _grow_columns(tree.add(f"{dataset}.{source.field}{how}" + (_SHOWN_ABOVE if source.repeated else "")), source)


@catalog_app.command("impact")
def catalog_impact(
    target: Annotated[str, typer.Argument(help="<domain>.<product>, or <domain>.<product>.<column>")],
) -> None:
    """Every downstream product, domain and owner that a change to a product (or one column) would affect."""
    settings = _settings()
    parts = target.split(".")
    product, column = ".".join(parts[:2]), (parts[2] if len(parts) == 3 else None)
    from lakemesh.catalog import impact

    found = _or_exit(lambda: impact(_catalog(settings), product, column=column, namespace=settings.namespace))
    if not found:
        console.print(f"nothing downstream of {target} is known to the catalog")
        return
    table = Table(title=f"affected by a change to {target}")
    for heading in ("product", "domain", "owner", "access", "hops", "columns"):
        table.add_column(heading)
    for entry in found:
        columns = ", ".join(entry.columns) or ("-" if column is None else "(reads the product; no column lineage)")
        if entry.indirect:  # a join key, filter, grouping... of the reader: every row may change
            columns += " (indirect)"
        table.add_row(entry.name, entry.domain, entry.owner or "-", entry.access or "-", str(entry.hops), columns)
    console.print(table)


@catalog_app.command("serve")
def catalog_serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 5000,
    url: Annotated[
        str | None,
        typer.Option("--url", help="catalog database URL (default: LAKEMESH_CATALOG_URL or the SQLite file)"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="LAKEMESH_CATALOG_TOKEN", help="bearer token required for writes", show_default=False),
    ] = None,
    tokens: Annotated[
        Path | None,
        typer.Option(
            envvar="LAKEMESH_CATALOG_TOKENS",
            help="YAML file of scoped write tokens: writer -> {sha256, writes: {namespace: [names]}}",
            show_default=False,
        ),
    ] = None,
    protect_reads: Annotated[bool, typer.Option(help="require a token for reads as well")] = False,
    max_body_bytes: Annotated[
        int | None, typer.Option(min=1024, help="largest accepted request body (default 5 MiB)", show_default=False)
    ] = None,
) -> None:
    """Serve the catalog: OpenLineage ingestion, the Marquez-compatible API and product pages."""
    from lakemesh.catalog.access import load_write_scopes
    from lakemesh.catalog.server import serve

    settings = _settings()
    serve(
        url or settings.catalog_url,
        namespace=settings.namespace,  # the pages show this lakehouse's products, whoever else writes here
        host=host,
        port=port,
        token=token,
        write_scopes=load_write_scopes(tokens) if tokens else (),
        protect_reads=protect_reads,
        **({"max_body_bytes": max_body_bytes} if max_body_bytes else {}),
    )


@app.command()
def read(
    product: str,
    version: Annotated[int | None, typer.Option(min=0)] = None,
    limit: Annotated[int, typer.Option(min=0)] = 10,
) -> None:
    """Print the first rows of a published product."""
    from lakemesh.storage.reader import read as read_product

    console.print(read_product(product, version=version, settings=_settings()).head(limit))


@app.command()
def maintain(
    products: Annotated[list[str] | None, typer.Argument(help="<domain>.<product> (default: every product)")] = None,
) -> None:
    """Compact, checkpoint and vacuum products beyond their contracts' retention; remove orphan files."""
    from lakemesh.contracts import load_contracts
    from lakemesh.errors import ProductNotFound
    from lakemesh.orchestration.maintenance import maintain_products

    settings = _settings()
    contracts = load_contracts(settings.project_dir / "contracts")
    unknown = sorted(set(products or ()) - set(contracts))
    if unknown:
        raise ProductNotFound(f"no contract for {', '.join(unknown)} in {settings.project_dir / 'contracts'}")
    chosen = [contracts[name] for name in products] if products else list(contracts.values())
    table = Table(title="storage maintenance")
    for heading in ("table", "version", "readable from", "files compacted", "files removed"):
        table.add_column(heading)
    for done in maintain_products(chosen, settings=settings):
        where = done.uri.removeprefix(settings.lakehouse + "/")
        table.add_row(
            where, str(done.version), str(done.oldest_kept), str(done.compacted_files), str(done.removed_files)
        )
    console.print(table)


@catalog_app.command("reconcile")
def catalog_reconcile(
    products: Annotated[list[str] | None, typer.Argument(help="<domain>.<product> (default: every product)")] = None,
    stale_minutes: Annotated[
        float, typer.Option(min=0, help="close a publish that started this long ago and never committed")
    ] = 60,
) -> None:
    """Make the catalog agree with the Delta logs: record missed commits, close publishes that never committed."""
    from lakemesh.catalog.reconcile import reconcile

    settings = _settings()
    done = reconcile(settings, products=products, stale_after=timedelta(minutes=stale_minutes))
    _report_reconcile(done)
    if done.problems:
        raise typer.Exit(1)


def _report_reconcile(done: Reconciliation) -> None:
    for entry in done.recorded:
        console.print(f"  recorded {entry} from the Delta log", highlight=False)
    for entry in done.aborted:
        console.print(f"  closed {entry} as ABORTED: it never committed", highlight=False)
    if done.waiting:
        console.print(f"[yellow]{done.waiting} lineage event(s) still wait in the outbox: {done.outbox_error}")
    for problem in done.problems:
        console.print(f"[red]not reconciled: {problem}", highlight=False)
    console.print(
        f"catalog reconciled with {done.products} Delta logs: {len(done.recorded)} version(s) recorded, "
        f"{len(done.aborted)} run(s) closed, {done.delivered} outbox event(s) delivered",
        highlight=False,
    )


@catalog_app.command("sync")
def catalog_sync() -> None:
    """Deliver the lineage events waiting in the outbox (kept when the catalog could not be reached)."""
    from lakemesh.errors import CatalogUnreachable
    from lakemesh.lineage import LineageEmitter

    settings = _settings()
    delivery = LineageEmitter.for_settings(settings).flush()
    if delivery.waiting:
        raise CatalogUnreachable(
            f"{delivery.delivered} event(s) delivered, {delivery.waiting} still waiting in {settings.outbox_dir}: "
            f"{delivery.error}"
        )
    console.print(f"{delivery.delivered} event(s) delivered; the outbox is empty")
