"""`lakemesh catalog ...`: look up products, their runs, checks and lineage; serve, reconcile and sync the catalog.

The catalog (SQLAlchemy) loads inside the commands, never when the CLI starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from lakemesh.cli.console import console
from lakemesh.cli.tables import JSON_OPTION, Column, print_json, print_rows
from lakemesh.errors import CatalogUnreachable, LakemeshError, in_one_line
from lakemesh.settings import PRODUCT_NAMESPACE_SCHEME, Settings

if TYPE_CHECKING:
    from lakemesh.catalog import Catalog, ColumnSource, LineageNode
    from lakemesh.catalog.reconcile import Reconciliation

__all__ = ["catalog_app", "report_reconcile"]

catalog_app = typer.Typer(help="Look up products, their runs, checks and lineage.", no_args_is_help=True)
T = TypeVar("T")
_SHOWN_ABOVE = "  [dim]… (shown above)"


def _catalog(settings: Settings) -> Catalog:
    from lakemesh.catalog import Catalog

    return Catalog(settings.catalog_url, storage_options=settings.storage_options)


def _or_exit(lookup: Callable[[], T]) -> T:
    """The lookup's answer; an unknown name (`NotFound`) or a depth out of the catalog's range is an error (exit 2)."""
    try:
        return lookup()
    except ValueError as exc:
        if isinstance(exc, LakemeshError):
            raise
        raise LakemeshError(str(exc)) from None


_LIST_COLUMNS = (
    Column("product", "product"),
    Column("owner", "owner", drop=2),
    Column("access", "access", drop=3),
    Column("contract", "contract_version", drop=1),
    Column("delta version", "current_version", justify="right"),
    Column("last run", "last_run", wraps=True),
)


@catalog_app.command("list")
def catalog_list(as_json: Annotated[bool, JSON_OPTION] = False):
    """Every product the catalog knows."""
    settings = Settings.from_env()
    products = _catalog(settings).products(namespace=settings.namespace)
    records = [
        {
            "product": p.name,
            "owner": p.owner,
            "access": p.contract.get("access"),
            "contract_version": p.contract.get("contractVersion"),
            "current_version": p.current_version,
            "last_run": p.last_run["state"] if p.last_run else None,
            "retired": p.retired,
        }
        for p in products
    ]
    rows = [
        [
            *(str(r[c.key]) if r[c.key] is not None else "-" for c in _LIST_COLUMNS[:-1]),
            f"retired {r['retired'][:10]}" if r["retired"] else r["last_run"] or "-",  # a retired one is not live
        ]
        for r in records
    ]
    print_rows(_LIST_COLUMNS, rows, records=records, as_json=as_json)


_FIELD_COLUMNS = (
    Column("column", "name"),
    Column("type", "type", drop=1),
    Column("description", "description", wraps=True),
)
_CHECK_COLUMNS = (Column("check", "check", wraps=True), Column("result", "result"))


@catalog_app.command("show")
def catalog_show(product: str, as_json: Annotated[bool, JSON_OPTION] = False) -> None:
    """A product's owner, contract, location, current version, last run and check results."""
    settings = Settings.from_env()
    p = _or_exit(lambda: _catalog(settings).product(product, namespace=settings.namespace))
    if as_json:
        print_json(p)
        return
    contract = p.contract
    console.print(f"[bold]{escape(p.name)}[/bold]  {escape(p.description or '')}")
    console.print(
        Text(
            f"owner: {p.owner}   access: {contract.get('access')}   "
            f"contract: {contract.get('contractId')} v{contract.get('contractVersion')}\n"
            f"location: {contract.get('location')}   current Delta version: {p.current_version}   "
            f"updated: {p.updated_at}"
        )
    )
    if p.retired:
        console.print(f"[yellow]retired since {escape(p.retired)}: its contract is gone; its versions stay readable")
    if p.last_run:
        run = p.last_run
        console.print(Text(f"last run: {run['id']} {run['state']} at {run['endedAt'] or run['startedAt']}"))
        if error := run["facets"].get("errorMessage", {}).get("message"):
            console.print(f"[red]{escape(error)}")
    fields = [[f["name"], f.get("type") or "", f.get("description") or ""] for f in p.fields]
    print_rows(_FIELD_COLUMNS, fields, as_json=False, title="columns")
    checks = [
        [name, Text("passed", style="green") if ok else Text("failed", style="red")] for name, ok in p.checks.items()
    ]
    print_rows(_CHECK_COLUMNS, checks, as_json=False, title="checks (last run)")


@catalog_app.command("lineage")
def catalog_lineage(
    target: Annotated[str, typer.Argument(help="<domain>.<product>, or <domain>.<product>.<column>")],
    upstream: Annotated[bool, typer.Option("--upstream/--downstream")] = True,
    depth: Annotated[int, typer.Option(min=0, help="hops to follow (at most the catalog's MAX_DEPTH, 100)")] = 3,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Where a product comes from (--upstream) or who reads it (--downstream); for a column, its source columns."""
    from lakemesh.catalog import column_sources, product_lineage

    settings = Settings.from_env()
    catalog = _catalog(settings)
    parts = target.split(".")
    if len(parts) == 3:
        product, column = ".".join(parts[:2]), parts[2]
        source = _or_exit(lambda: column_sources(catalog, product, column, namespace=settings.namespace))
        if as_json:
            print_json(source)
            return
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
    if as_json:
        print_json(root)
        return
    tree = Tree(f"[bold]{escape(root.name)}")
    _grow(tree, root)
    console.print(tree)


def _grow(tree: Tree, node: LineageNode) -> None:
    for child in node.children:
        if child.model:
            version = f"model v{child.version}" if child.version else "model, no version registered"
            label, how = child.name, f"{version}, via {child.via_job}"
        elif child.namespace.startswith(PRODUCT_NAMESPACE_SCHEME):
            label, how = child.name, f"via {child.via_job}"
        else:
            label, how = f"{child.namespace}:{child.name}", f"via {child.via_job}"
        shown = f"{escape(label)}  [dim]({escape(how)})" + (_SHOWN_ABOVE if child.repeated else "")
        _grow(tree.add(shown), child)


def _grow_columns(tree: Tree, node: ColumnSource) -> None:
    for source in node.inputs:
        dataset = source.dataset if source.namespace.startswith("lakemesh://") else source.dataset.rsplit("/", 1)[-1]
        how = f"  [dim]({source.transformation.lower()})" if source.transformation else ""
        _grow_columns(tree.add(f"{dataset}.{source.field}{how}" + (_SHOWN_ABOVE if source.repeated else "")), source)


_IMPACT_COLUMNS = (
    Column("product", "name"),
    Column("domain", "domain", drop=3),
    Column("owner", "owner"),
    Column("access", "access", drop=2),
    Column("hops", "hops", justify="right", drop=1),
    Column("columns", "columns", wraps=True),
)


@catalog_app.command("impact")
def catalog_impact(
    target: Annotated[str, typer.Argument(help="<domain>.<product>, or <domain>.<product>.<column>")],
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Every downstream product, domain and owner that a change to a product (or one column) would affect."""
    settings = Settings.from_env()
    parts = target.split(".")
    product, column = ".".join(parts[:2]), (parts[2] if len(parts) == 3 else None)
    from lakemesh.catalog import impact

    found = _or_exit(lambda: impact(_catalog(settings), product, column=column, namespace=settings.namespace))
    if as_json:
        print_json(found)
        return
    if not found:
        console.print(f"nothing downstream of {target} is known to the catalog", markup=False)
        return
    rows = []
    for entry in found:
        columns = ", ".join(entry.columns) or ("-" if column is None else "(reads the product; no column lineage)")
        if entry.indirect:  # a join key, filter, grouping... of the reader: every row may change
            columns += " (indirect)"
        rows.append([entry.name, entry.domain, entry.owner or "-", entry.access or "-", str(entry.hops), columns])
    print_rows(_IMPACT_COLUMNS, rows, as_json=False, title=f"affected by a change to {target}")


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
    request_timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds a client has to send a request, headers and body")
    ] = 10.0,
    max_connections: Annotated[int, typer.Option(min=1, help="connections at once; past them, 503")] = 2048,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="accept writes from anyone who can reach the server")
    ] = False,
) -> None:
    """Serve the catalog: OpenLineage ingestion, the Marquez-compatible API and product pages.

    Writes need a token: `--token` (`LAKEMESH_CATALOG_TOKEN`), scoped tokens (`--tokens`), or else the catalog's
    own, made on the first serve and kept beside the catalog, readable by its owner only.
    """
    from lakemesh.catalog.access import catalog_token, load_write_scopes
    from lakemesh.catalog.server import serve

    settings = Settings.from_env()
    catalog_url = url or settings.catalog_url
    if insecure_no_auth:
        token = None
        typer.echo("warning: --insecure-no-auth: anyone who can reach this server may write into the catalog", err=True)
    elif not token and not tokens:
        path = _token_file(catalog_url, settings)
        token = catalog_token(path)
        typer.echo(f"writes need the token in {path} (Authorization: Bearer <token>)", err=True)
    serve(
        catalog_url,
        namespace=settings.namespace,  # the pages show this lakehouse's products, whoever else writes here
        storage_options=settings.storage_options,
        host=host,
        port=port,
        token=token,
        write_scopes=load_write_scopes(tokens) if tokens else (),
        protect_reads=protect_reads,
        request_timeout=request_timeout,
        max_connections=max_connections,
        **({"max_body_bytes": max_body_bytes} if max_body_bytes else {}),
    )


def _token_file(catalog_url: str, settings: Settings) -> Path:
    """Beside the catalog: `<catalog>.token` for a SQLite file, else in the lakehouse's local folder."""
    if catalog_url.startswith("sqlite:///"):
        return Path(catalog_url.removeprefix("sqlite:///")).with_suffix(".token")
    return settings.local_dir / "_catalog.token"


@catalog_app.command("reconcile")
def catalog_reconcile(
    products: Annotated[list[str] | None, typer.Argument(help="<domain>.<product> (default: every product)")] = None,
    stale_minutes: Annotated[
        float, typer.Option(min=0, help="close a publish that started this long ago and never committed")
    ] = 60,
) -> None:
    """Make the catalog equal the Delta logs (record missed commits, remove versions Delta lacks, close publishes
    that never committed) and close the model registry's trainings whose process is gone."""
    from lakemesh.catalog.reconcile import reconcile
    from lakemesh.ml.registry import close_abandoned_trainings

    settings = Settings.from_env()
    done = reconcile(settings, products=products, stale_after=timedelta(minutes=stale_minutes))
    report_reconcile(done)
    try:
        closed = close_abandoned_trainings(settings)
    except Exception as error:  # the catalog is reconciled all the same
        console.print(f"[red]model registry not reconciled: {escape(in_one_line(error))}", highlight=False)
        raise typer.Exit(1) from None
    for entry in closed:
        console.print(f"  closed {entry}", highlight=False, markup=False)
    if done.problems:
        raise typer.Exit(1)


def report_reconcile(done: Reconciliation) -> None:
    """Print what a reconciliation recorded, closed and could not do (`run` prints it too, when there is news)."""
    for entry in done.recorded:
        console.print(f"  recorded {entry} from the Delta log", highlight=False, markup=False)
    for entry in done.restated:
        console.print(f"  set to its Delta log: {entry}", highlight=False, markup=False)
    for name in done.retired:
        console.print(f"  retired {name}: its contract is gone from the project", highlight=False, markup=False)
    for name in done.revived:
        console.print(f"  {name} is live again: its contract is back", highlight=False, markup=False)
    for entry in done.aborted:
        console.print(f"  closed {entry} as ABORTED: it never committed", highlight=False, markup=False)
    if done.waiting:
        console.print(
            f"[yellow]{done.waiting} lineage event(s) still wait in the outbox: {escape(str(done.outbox_error))}"
        )
    for problem in done.problems:
        console.print(f"[red]not reconciled: {escape(str(problem))}", highlight=False)
    console.print(
        f"catalog reconciled with {done.products} Delta logs: {len(done.recorded)} version(s) recorded, "
        f"{len(done.restated)} product(s) set to Delta, {len(done.aborted)} run(s) closed, "
        f"{done.delivered} outbox event(s) delivered",
        highlight=False,
    )


@catalog_app.command("sync")
def catalog_sync() -> None:
    """Deliver the lineage events waiting in the outbox (kept when the catalog could not be reached), and what the
    Spark listeners of killed runs left there."""
    from lakemesh.lineage import LineageEmitter
    from lakemesh.lineage.listener import forward_abandoned_listener_events

    settings = Settings.from_env()
    forwarded = forward_abandoned_listener_events(settings=settings)
    if forwarded:
        console.print(f"{forwarded} Spark lineage event(s) of stopped runs forwarded")
    delivery = LineageEmitter.for_settings(settings).flush()
    if delivery.waiting:
        raise CatalogUnreachable(
            f"{delivery.delivered} event(s) delivered, {delivery.waiting} still waiting in {settings.outbox_dir}: "
            f"{delivery.error}"
        )
    set_aside = sorted((settings.outbox_dir / "spark").glob("*.refused"))
    if set_aside:
        lines = sum(len(path.read_bytes().splitlines()) for path in set_aside)
        console.print(
            f"{lines} Spark lineage event(s) set aside, never to be sent (see the log): {set_aside[0].parent}"
        )
    console.print(f"{delivery.delivered} event(s) delivered; the outbox is empty")
