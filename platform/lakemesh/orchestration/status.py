"""What `lakemesh run` says of each product: how it stands in the lakehouse and the catalog, and what the run did.

A run's outcome for a product is read from its Dagster runs' own events (its
checks as this run judged them, why its step failed, that an input failed), not
from the catalog's last run, which may be a concurrent run's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import dagster as dg
import polars as pl

from lakemesh.catalog import Catalog, NotFound
from lakemesh.contracts import Contract, load_contract
from lakemesh.errors import ContractInvalid, TableUnreadable, first_line
from lakemesh.orchestration.catch_up import Build, built_through, landing_times, partition_ranges
from lakemesh.orchestration.products import CONTRACT_CHECK, product_name
from lakemesh.settings import Settings
from lakemesh.storage.delta import current_version, newest_day, open_table, read_table

__all__ = ["MeshRun", "ProductStatus", "failure_message", "failure_reason", "is_interruption", "mesh_status"]


@dataclass(frozen=True, kw_only=True)
class MeshRun:
    """What one `lakemesh run` did: the Dagster runs of its catch-up, in order, and what they were to build."""

    job: dg.JobDefinition
    planned: Sequence[Build]
    runs: Sequence[dg.ExecuteInProcessResult]
    recorded: bool = True
    """False when the runs could not all be recorded for the Dagster UI (why is in the run log)."""

    @property
    def success(self) -> bool:
        """Every run succeeded (an asset left out because its input failed means one did not)."""
        return all(run.success for run in self.runs)

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]

    @property
    def all_events(self) -> list[dg.DagsterEvent]:
        """Every event of every run, as `ExecuteInProcessResult.all_events` has one run's."""
        return [event for run in self.runs for event in run.all_events]

    def get_asset_materialization_events(self) -> list[dg.DagsterEvent]:
        return [event for run in self.runs for event in run.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list[dg.AssetCheckEvaluation]:
        return [evaluation for run in self.runs for evaluation in run.get_asset_check_evaluations()]


@dataclass(frozen=True, kw_only=True)
class ProductStatus:
    """One row of the mesh summary."""

    name: str
    owner: str
    rows: int | None
    version: int | None
    contract_version: str
    checks: str
    built: str = "-"
    """What this run built of it: partitions (`1995-07-01`, `1992-01-01...1998-08-02`), `whole`, `up to date`."""
    newest: str = "-"
    """A partitioned product's newest partition, and how many days it is behind the newest landed day when that is
    more than its freshness SLA allows (`1998-07-30 (3 d behind)`)."""


_INTERRUPTED = {"DagsterExecutionInterruptedError", "KeyboardInterrupt"}


def is_interruption(error: Any) -> bool:
    """Whether a Dagster `SerializableErrorInfo` is, at its root, Ctrl-C or SIGTERM rather than a failure."""
    return _innermost(error).cls_name in _INTERRUPTED


def _innermost(error: Any) -> Any:
    while error.cause is not None:
        error = error.cause
    return error


def failure_message(error: Any, *, product: str) -> str:
    """All of what went wrong (a Dagster `SerializableErrorInfo`) in a product's step: the innermost cause's whole
    message, which for the platform's errors holds the failed checks, the readers of a breaking change and the fix
    (without the product's name in front: it is said beside)."""
    error = _innermost(error)
    if error.cls_name in _INTERRUPTED:
        return "interrupted"
    lines = error.message.strip().splitlines() or [error.cls_name or "failed"]
    label, _, rest = lines[0].partition(": ")
    if rest and label.rsplit(".", 1)[-1] == error.cls_name:  # "lakemesh.errors.X: why" -> "why"
        lines[0] = rest
    lines[0] = lines[0].removeprefix(f"{product}: ")
    return "\n".join(line.rstrip() for line in lines)


def failure_reason(error: Any, *, product: str) -> str:
    """The first line of `failure_message`: the summary's one line."""
    return failure_message(error, product=product).splitlines()[0]


def _checks_of_run(run: MeshRun, published: set[str]) -> dict[str, str]:
    """For each product this run published: its checks as this run judged them (not the catalog's last run,
    which may be a concurrent run's)."""
    judged: dict[str, dict[str, bool]] = {}
    for evaluation in run.get_asset_check_evaluations():  # a warning (drift below its failing bound) passes
        passed = evaluation.passed or evaluation.severity == dg.AssetCheckSeverity.WARN
        checks = judged.setdefault(product_name(evaluation.asset_key), {})
        if evaluation.check_name == CONTRACT_CHECK:  # a partitioned product's: its guarantees, by name
            failed = set(evaluation.metadata["failed"].value)
            checks |= {name: name not in failed for name in evaluation.metadata["guarantees"].value}
        else:
            checks[evaluation.check_name] = passed
    checks = {}
    for name in published:
        failed = [check for check, ok in judged.get(name, {}).items() if not ok]
        checks[name] = f"failed: {', '.join(failed)}" if failed else f"{len(judged.get(name, {}))} passed"
    return checks


def _outcomes(run: MeshRun) -> dict[str, str]:
    """For each product of the run: what this run did to it, in one line (its checks as judged in this run, or
    why it was not published: its step failed, an input failed, or the run stopped before reaching it). A product
    that was up to date, so not planned, has none."""
    published = {product_name(e.asset_key) for e in run.get_asset_materialization_events()}
    failures = {event.step_key: event.step_failure_data.error for event in run.all_events if event.is_step_failure}
    planned = {key for build in run.planned for key in build.keys}
    layer = run.job.asset_layer
    graph = layer.asset_graph

    def step_of(key: dg.AssetKey) -> str:
        return layer.get_op_output_handle(key).node_handle.name

    @cache  # ancestors are shared: without it, a lattice of assets is walked once per path
    def an_input_failed(key: dg.AssetKey) -> bool:
        parents = [p for p in graph.get(key).parent_keys if graph.has(p) and graph.get(p).is_materializable]
        return any(step_of(p) in failures or an_input_failed(p) for p in parents)

    outcomes = _checks_of_run(run, published)
    left_out = _partitions_left_out(run)
    for node in graph.asset_nodes:
        name = product_name(node.key)
        if not node.is_materializable:
            continue
        why = "not run: an input failed" if an_input_failed(node.key) else "not run: the run stopped"
        if step_of(node.key) in failures:  # in one of its runs: another range of it may have been published
            outcomes[name] = f"failed: {failure_reason(failures[step_of(node.key)], product=name)}"
        elif name in published and node.key in left_out:  # some of its partitions were built, others not
            outcomes[name] = f"{outcomes.get(name, 'published')}; {left_out[node.key]} {why}"
        elif name in published:
            continue
        elif node.key in planned:
            outcomes[name] = why
    return outcomes


def _partitions_left_out(run: MeshRun) -> dict[dg.AssetKey, str]:
    """For each partitioned asset of the run: the partitions it was to build and did not (as ranges), if any."""
    materialized: dict[dg.AssetKey, set[str]] = {}
    for event in run.get_asset_materialization_events():
        if event.partition:
            materialized.setdefault(event.asset_key, set()).add(event.partition)
    graph, left_out = run.job.asset_layer.asset_graph, {}
    for key in {key for build in run.planned if build.partitions for key in build.keys}:
        definition = graph.get(key).partitions_def
        if definition is None:
            continue
        wanted = set()
        for build in run.planned:
            if key in build.keys and build.partitions:
                wanted |= set(definition.get_partition_keys_in_range(dg.PartitionKeyRange(*build.partitions)))
        missing = wanted - materialized.get(key, set())
        if missing:
            left_out[key] = _as_ranges(missing, definition.get_partition_keys())
    return left_out


def _as_ranges(keys: Collection[str], every: list[str]) -> str:
    """Partition keys (of `every`, in its order) as the fewest ranges: `1995-07-01, 1995-07-03...1995-07-05`."""
    position = {key: i for i, key in enumerate(every)}
    spans = partition_ranges(sorted(keys, key=position.__getitem__), every)
    return ", ".join(first if first == last else f"{first}...{last}" for first, last in spans)


def _built(run: MeshRun) -> dict[str, str]:
    """For each product this run published: which partitions (`1995-07-01`, `1992-01-01...1998-08-02`), or
    `whole`."""
    partitions: dict[dg.AssetKey, list[str]] = {}
    for event in run.get_asset_materialization_events():
        partitions.setdefault(event.asset_key, [])
        if event.partition:
            partitions[event.asset_key].append(event.partition)
    graph = run.job.asset_layer.asset_graph
    built = {}
    for key, keys in partitions.items():
        definition = graph.get(key).partitions_def
        if not keys or definition is None:
            built[product_name(key)] = "whole"
            continue
        built[product_name(key)] = _as_ranges(set(keys), definition.get_partition_keys())
    return built


def mesh_status(
    settings: Settings,
    *,
    run: MeshRun | None = None,
    unloaded: Mapping[str, str] | None = None,
    selected: Collection[dg.AssetKey] | None = None,
) -> list[ProductStatus]:
    """Every contract's product as it stands in the lakehouse and the catalog, and what `run` did to it.

    `unloaded` names the code locations (domains) that could not load, with why: their products did not run.
    `selected` are the assets `run` was asked for, when not every one.
    """
    selected_names = {product_name(key) for key in selected} if selected is not None else None
    catalog = Catalog(settings.catalog_url)
    outcomes = _outcomes(run) if run is not None else {}
    built = _built(run) if run is not None else {}
    landed = landing_times(settings.landing)  # one scan of the landing zone for every product
    statuses = []
    for name, path in settings.contract_paths().items():
        try:
            contract = load_contract(path)
        except ContractInvalid as error:
            statuses.append(
                ProductStatus(name=name, owner="-", rows=None, version=None, contract_version="-", checks=str(error))
            )
            continue
        newest = "-"
        try:
            version, rows = _published(settings.table_uri(name), settings)
            checks = _last_checks(catalog, name, settings)
            if contract.partitioning is not None and version is not None:
                newest = _newest_partition(contract, settings, landed=landed)
        except TableUnreadable as error:  # one damaged table: said in its row, every other product still shown
            version, rows, checks = None, None, first_line(error)
        if contract.domain in (unloaded or {}):
            checks = f"not run: code location {contract.domain} did not load"
        if selected_names is not None and name not in selected_names:
            checks = "not selected"
        checks = outcomes.get(name, checks)  # what this run did wins over the catalog's last run
        if run is not None and selected_names is None and name not in outcomes:
            built.setdefault(name, "up to date")
        statuses.append(
            ProductStatus(
                name=name,
                owner=contract.owner,
                rows=rows,
                version=version,
                contract_version=contract.version,
                checks=checks,
                built=built.get(name, "-"),
                newest=newest,
            )
        )
    if run is not None:
        statuses += _models_of_run(run, outcomes, products=set(settings.contract_paths()))
    return sorted(statuses, key=lambda status: status.name)


def _models_of_run(run: MeshRun, outcomes: Mapping[str, str], *, products: set[str]) -> list[ProductStatus]:
    """The run's assets that are no product (a model): its registered version and its gate, as a summary row."""
    registered = {
        product_name(event.asset_key): event.materialization.metadata["model_version"].value
        for event in run.get_asset_materialization_events()
        if "model_version" in event.materialization.metadata
    }
    rows = []
    for node in run.job.asset_layer.asset_graph.asset_nodes:
        name = product_name(node.key)
        if name in products or not node.is_materializable:
            continue
        rows.append(
            ProductStatus(
                name=name,
                owner=node.owners[0].removeprefix("team:") if node.owners else "-",
                rows=None,
                version=registered.get(name),
                contract_version="model",
                checks=outcomes.get(name, "up to date: trained by its code"),
                built="whole" if name in registered else "-",
            )
        )
    return rows


def _published(uri: str, settings: Settings) -> tuple[int | None, int | None]:
    """The product's current version and its rows (None, None when never published)."""
    version = current_version(uri, storage_options=settings.storage_options)
    if version is None:
        return None, None
    return version, read_table(uri, storage_options=settings.storage_options).select(pl.len()).collect().item()


def _newest_partition(contract: Contract, settings: Settings, *, landed: Mapping[date, float]) -> str:
    """The product's newest partition (from its files' statistics), with how many days it is behind the newest
    landed day, when more than the contract's freshness SLA: the newest day landed before the commit that last
    replaced that day's rows (a month or year partition holding it may have been built before it landed)."""
    partitioning = contract.partitioning
    assert partitioning is not None
    table = open_table(settings.table_uri(contract.name), storage_options=settings.storage_options)
    day = newest_day(table, partitioning.column)
    if day is None:
        return "empty"
    key = partitioning.key_of(day)
    through = built_through(contract, settings=settings, landed=landed)
    behind = (max(landed) - through).days if landed and through is not None else 0
    allowed = (contract.freshness_hours or 0) / 24
    return f"{key} ({behind} d behind)" if behind > 0 and behind > allowed else key


def _last_checks(catalog: Catalog, name: str, settings: Settings) -> str:
    """The product's checks as the catalog's last run of it left them."""
    try:
        entry = catalog.product(name, namespace=settings.namespace)
    except NotFound:
        return "never run"
    last_state = entry.last_run["state"] if entry.last_run else None
    failed = [check for check, ok in entry.checks.items() if not ok]
    if failed:
        return f"failed: {', '.join(failed)}"
    return f"{len(entry.checks)} passed" if last_state == "COMPLETED" else (last_state or "never run").lower()
