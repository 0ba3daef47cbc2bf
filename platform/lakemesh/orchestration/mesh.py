"""The whole mesh at once: every code location of `workspace.yaml`, materialized in dependency order."""

from __future__ import annotations

import importlib
import logging
import os
import re
import socket
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import yaml

from lakemesh.errors import SelectionInvalid, did_you_mean, first_line
from lakemesh.orchestration.backfills import BACKFILL_TAG, new_backfill_id, record_backfill
from lakemesh.orchestration.catch_up import Build, Days, backfill, catch_up, overlaps
from lakemesh.orchestration.products import product_name
from lakemesh.orchestration.recording import RunWatch, instance_at
from lakemesh.orchestration.status import MeshRun, is_interruption
from lakemesh.processes import process_exited
from lakemesh.settings import Settings
from lakemesh.storage.landing import last_landed_day

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

__all__ = ["BackfillRequest", "load_workspace", "materialize_mesh", "select_assets"]


def load_workspace(project_dir: Path, *, errors: dict[str, str] | None = None) -> dict[str, dg.Definitions]:
    """Import every `python_module` code location listed in `workspace.yaml`, by location name.

    With `errors`, a location that fails to load is recorded there (location: the reason, in one line)
    and the others load all the same, as in the Dagster UI; without it, the first failure raises.
    """
    workspace = yaml.safe_load((project_dir / "workspace.yaml").read_text())
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))  # what `working_directory: .` does for `dagster dev`
    locations = {}
    for entry in workspace["load_from"]:
        spec = entry["python_module"]
        name = spec.get("location_name", spec["module_name"])
        try:  # afresh when imported before: its partitions reach the newest day landed by now
            loaded = sys.modules.get(spec["module_name"])
            module = importlib.reload(loaded) if loaded else importlib.import_module(spec["module_name"])
        except Exception as error:
            if errors is None:
                raise
            errors[name] = first_line(error)
            continue
        locations[name] = module.defs
    return locations


@dg.logger(
    config_schema={"path": dg.Field(str), "echo": dg.Field(bool, default_value=False)},
    description="Every Dagster and dbt message of the run, into one file (and to stderr when echoing).",
)
def _run_log(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger(f"lakemesh.run.{init_context.run_id}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.handlers.clear()  # initialised once per job the run touches: one set of handlers
    path = Path(init_context.logger_config["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.FileHandler(path)]
    if init_context.logger_config["echo"]:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


_PROCESS_TAG = "lakemesh/process"
_RANGE_START, _RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
"""The run tags of a partition range, as Dagster's single-run backfills set them."""


def _close_abandoned_runs(instance: dg.DagsterInstance) -> None:
    """Mesh runs left open by a process that died (SIGKILL, power loss) on this host are closed as failed."""
    host = socket.gethostname()
    unfinished = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished, tags={"lakemesh/mesh": "all"})):
        owner, _, pid = run.tags.get(_PROCESS_TAG, "").rpartition(":")
        if owner == host and pid.isdigit() and process_exited(int(pid)):
            instance.report_run_failed(run, f"its lakemesh run process ({pid}) died before the run finished")


def _mesh_job(locations: Mapping[str, dg.Definitions]) -> dg.JobDefinition:
    merged = dg.Definitions.merge(*locations.values(), dg.Definitions(loggers={"run_log": _run_log}))
    return merged.resolve_implicit_global_asset_job_def()


_PRODUCT_TOKEN = re.compile(r"(?<![\w./])(?P<name>[A-Za-z_]\w*\.[A-Za-z_]\w*)(?![\w.])")


def select_assets(locations: Mapping[str, dg.Definitions], selection: str) -> frozenset[dg.AssetKey]:
    """The assets `selection` names, in Dagster's asset selection syntax with products named as everywhere
    (`sales.orders`, `+sales.revenue_by_nation`, `sales.orders+`, `group:sales`, `kind:dbt`)."""
    graph = _mesh_job(locations).asset_layer.asset_graph
    products = {product_name(key): key for key in graph.materializable_asset_keys}

    def as_key(found: re.Match[str]) -> str:
        name = found["name"]
        if name not in products:
            hint = did_you_mean(name, products) or f"; the products are {', '.join(sorted(products))}"
            raise SelectionInvalid(f"--select {selection!r}: there is no product {name}{hint}")
        return products[name].to_user_string()

    try:
        with warnings.catch_warnings():  # Dagster's parser calls its own beta `include_sources`, and says so
            warnings.simplefilter("ignore", dg.BetaWarning)
            chosen = dg.AssetSelection.from_string(_PRODUCT_TOKEN.sub(as_key, selection)).resolve(graph)
    except dg.DagsterError as error:  # the syntax, or a key it names that is not there
        raise SelectionInvalid(f"--select {selection!r} is not an asset selection: {first_line(error)}") from None
    chosen &= graph.materializable_asset_keys
    if not chosen:
        raise SelectionInvalid(f"--select {selection!r} selects no asset to materialize")
    return frozenset(chosen)


@dataclass(frozen=True, kw_only=True)
class BackfillRequest:
    """`lakemesh backfill`: rebuild the partitions of `product` holding the days `first` through `last`, and with
    `downstream` those of its dependants that read them."""

    product: str
    first: date
    last: date
    downstream: bool = False

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise SelectionInvalid(
                f"backfill {self.product} {self.first}...{self.last}: the range runs backwards (--from is after "
                "--to); nothing was built"
            )

    def plan(self, graph: AssetGraph, *, settings: Settings) -> list[Build]:
        """Its runs; refused (`SelectionInvalid`, nothing built) for a product that is not there or not
        partitioned, or a range outside the product's partitions or the landed days (one that runs backwards is
        refused when made)."""
        where = f"backfill {self.product} {self.first}...{self.last}"
        products = {product_name(key): key for key in graph.materializable_asset_keys}
        key = products.get(self.product)
        if key is None:
            hint = did_you_mean(self.product, products) or f"; the products are {', '.join(sorted(products))}"
            raise SelectionInvalid(f"{where}: there is no product {self.product}{hint}; nothing was built")
        definition = graph.get(key).partitions_def
        if not isinstance(definition, dg.TimeWindowPartitionsDefinition):
            raise SelectionInvalid(
                f"{where}: {self.product} is not partitioned (its contract marks no partition column); rebuild it "
                f"whole with `lakemesh run --select {self.product}`; nothing was built"
            )
        newest = last_landed_day(settings.landing)
        last_window = definition.get_last_partition_window()
        if newest is None or last_window is None or self.last >= last_window.end.date():
            landed = f"the newest landed day is {newest}" if newest else "nothing has landed"
            if last_window is not None:
                landed += f"; its last partition, {definition.get_last_partition_key()}, reads it"
            raise SelectionInvalid(
                f"{where}: the range runs beyond the landing data ({landed}); land it first "
                f"(`lakemesh generate --until {self.last}`); nothing was built"
            )
        start = definition.start.date()
        if self.first < start:
            raise SelectionInvalid(
                f"{where}: the range starts before {self.product}'s first partition "
                f"({definition.get_first_partition_key()}); nothing was built"
            )
        days = (self.first, self.last + timedelta(days=1))
        return backfill(graph, key, days=days, settings=settings, downstream=self.downstream)


def materialize_mesh(
    locations: dict[str, dg.Definitions],
    *,
    instance: dg.DagsterInstance,
    log_file: Path,
    settings: Settings | None = None,
    selected: Collection[dg.AssetKey] | None = None,
    backfill_request: BackfillRequest | None = None,
    echo: bool = False,
    on_event: Callable[[dg.EventLogEntry], None] | None = None,
    record_into: Path | None = None,
    on_plan: Callable[[Sequence[Build]], None] | None = None,
) -> MeshRun:
    """Bring every asset of every location up to date (`catch_up`: the partitions and products that are missing or
    older than what they read), or build the `selected` ones in full, or the partitions of a `backfill_request`
    (recorded as a Dagster backfill), reading the others at their published versions; in this process, one
    Dagster run per partition range, reporting step events as they happen.

    An asset is left out of a later run where an input failed (or was left out) on days it reads. Dagster's and
    dbt's messages go to `log_file` (and stderr too with `echo`), not to the console. With `record_into` (the UI's
    Dagster home), the runs, their steps, materializations and check results are recorded there as they happen;
    Dagster's debug events stay in the run log. `on_plan` hears the plan before the first run starts.
    """
    if record_into is not None:
        with instance_at(record_into) as recorded:
            _close_abandoned_runs(recorded)
    else:
        _close_abandoned_runs(instance)
    job = _mesh_job(locations)
    graph = job.asset_layer.asset_graph
    settings = settings or Settings.from_env()
    if backfill_request is not None:
        plan = backfill_request.plan(graph, settings=settings)
    else:
        plan = catch_up(graph, settings=settings, selected=selected)
    if on_plan:
        on_plan(plan)
    started, backfill_id = time.time(), new_backfill_id()
    tags = {BACKFILL_TAG: backfill_id} if backfill_request is not None else {}
    ran: dict[Build, set[dg.AssetKey]] = {}  # the assets each build ran (those an input failed for left out)
    materialized: dict[Build, set[dg.AssetKey]] = {}
    interrupted = False
    watch = RunWatch(instance, on_event=on_event, record_into=record_into if plan else None, log_file=log_file)
    runs: list[dg.ExecuteInProcessResult] = []
    lost: dict[dg.AssetKey, list[Days]] = {}  # the days of each asset that failed, or were not built for it
    try:
        for build in plan:
            keys = set()
            for key in build.keys:  # left out only where an input's lost days are days it reads
                if any(overlaps(lost.get(parent, []), build.reads[key]) for parent in graph.get(key).parent_keys):
                    lost.setdefault(key, []).append(build.writes[key])
                else:
                    keys.add(key)
            if not keys:
                continue
            run_id = str(uuid.uuid4())
            watch.follow(run_id)
            try:
                result = _run_once(job, keys, run_id=run_id, partitions=build.partitions, instance=instance,
                                   log_file=log_file, echo=echo, tags=tags)  # fmt: skip
            finally:
                watch.ended(run_id)
            runs.append(result)
            ran[build] = keys
            materialized[build] = {event.asset_key for event in result.get_asset_materialization_events()}
            failures = [event for event in result.all_events if event.is_step_failure]
            failed_steps = {event.step_key for event in failures}
            for key in keys:
                if job.asset_layer.get_op_output_handle(key).node_handle.name in failed_steps:
                    lost.setdefault(key, []).append(build.writes[key])
            errors = [event.step_failure_data.error for event in failures]
            errors += [event.event_specific_data.error for event in result.all_events if event.is_run_failure]
            if any(is_interruption(error) for error in errors if error is not None):
                interrupted = True
                break  # Ctrl-C, SIGTERM: the run stopped there, and the plan's later runs with it
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM between two runs
        interrupted = True
        raise
    finally:
        recorded = watch.close()
        if backfill_request is not None and plan:
            request = backfill_request
            title = f"{request.product} {request.first}...{request.last}" + (" and downstream" * request.downstream)
            try:
                with instance_at(record_into) if record_into is not None else nullcontext(instance) as into:
                    record_backfill(into, graph, backfill_id=backfill_id, title=title, planned=plan, ran=ran,
                                    materialized=materialized, canceled=interrupted, started=started,
                                    tags=tags)  # fmt: skip
            except Exception as error:  # the products stand; only the UI's Backfills page misses it
                recorded = False  # the run says so; why goes to the run log, never over the run's own error
                with suppress(OSError), log_file.open("a") as log:
                    log.write(f"the backfill {backfill_id} was not recorded for the Dagster UI: {error!r}\n")
    return MeshRun(job=job, planned=plan, runs=runs, recorded=recorded)


def _run_once(
    job: dg.JobDefinition,
    keys: Collection[dg.AssetKey],
    *,
    run_id: str,
    partitions: tuple[str, str] | None,
    instance: dg.DagsterInstance,
    log_file: Path,
    echo: bool,
    tags: Mapping[str, str],
) -> dg.ExecuteInProcessResult:
    """One Dagster run of `keys` (over the partition range `partitions`), with these `tags` too."""
    tags = {**tags, "lakemesh/mesh": "all", _PROCESS_TAG: f"{socket.gethostname()}:{os.getpid()}"}
    if partitions is not None:
        tags |= {_RANGE_START: partitions[0], _RANGE_END: partitions[1]}
    try:
        return job.execute_in_process(
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
            asset_selection=sorted(keys),
            tags=tags,
            run_config={"loggers": {"run_log": {"config": {"path": str(log_file), "echo": echo}}}},
        )
    except BaseException as error:  # interrupted before Dagster could close the run: never leave it open
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, f"lakemesh run stopped: {type(error).__name__} {error}".strip())
        raise
