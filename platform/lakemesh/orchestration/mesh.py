"""The whole mesh at once: every code location of `workspace.yaml`, materialized in dependency order."""

from __future__ import annotations

import fcntl
import importlib
import logging
import multiprocessing
import os
import re
import signal
import socket
import sys
import threading
import traceback
import uuid
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from queue import Empty
from typing import Any

import dagster as dg
import polars as pl
import yaml
from dagster import DagsterEventType, deserialize_value, serialize_value
from sqlalchemy.exc import OperationalError

from lakemesh.catalog import Catalog, NotFound
from lakemesh.contracts import load_contract
from lakemesh.errors import ContractInvalid, SelectionInvalid, TableUnreadable, did_you_mean, first_line
from lakemesh.orchestration.catch_up import Build, Days, catch_up, overlaps, partition_ranges
from lakemesh.orchestration.products import CONTRACT_CHECK
from lakemesh.processes import process_exited
from lakemesh.settings import Settings
from lakemesh.storage.delta import current_version, read_table

__all__ = [
    "MeshRun",
    "ProductStatus",
    "failure_message",
    "failure_reason",
    "load_workspace",
    "materialize_mesh",
    "mesh_status",
    "prepare_instance_home",
    "select_assets",
]

_WATCHED = {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
}


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


_INSTANCE_CONFIG = """\
# Written by lakemesh for `lakemesh run`: runs and their events are kept in this folder.
telemetry:
  enabled: false
"""


_RECORDED = {
    DagsterEventType.RUN_START,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
}
"""What the UI shows of a run: its start and end, each step's, each materialization and check result."""


class _Recorder:
    """Copies the mesh's runs, as they happen, from the in-memory instance they run in into the Dagster instance at
    `home` (the UI's): each run with its snapshots at its first event, then each event the UI shows.

    The UI's SQLite costs ~8 ms an event, and a run over six years of days has thousands (one per partition):
    a process of its own writes them, on the other core, while the steps go on in this one. What it cannot
    write (its traceback) goes to `log_file`.
    """

    def __init__(self, *, source: dg.DagsterInstance, home: Path, log_file: Path) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: this process runs threads
        self.source = source
        self.queue = context.Queue()
        self.process = context.Process(target=_record, args=(str(home), str(log_file), self.queue), daemon=True)
        self.process.start()
        self.runs: set[str] = set()

    def record(self, entry: dg.EventLogEntry) -> None:
        if entry.run_id not in self.runs:
            self.runs.add(entry.run_id)
            run = self.source.get_run_by_id(entry.run_id)
            snapshots = [
                (run.job_snapshot_id, serialize_value(self.source.get_job_snapshot(run.job_snapshot_id))),
                (
                    run.execution_plan_snapshot_id,
                    serialize_value(self.source.get_execution_plan_snapshot(run.execution_plan_snapshot_id)),
                ),
            ]
            self.queue.put(("run", serialize_value(run), snapshots))
        self.queue.put(("event", serialize_value(entry), []))

    def close(self) -> bool:
        """Wait until everything sent is written; False when the recording process failed (see the run log)."""
        if self.process.is_alive():
            self.queue.put(None)
        self.process.join()
        if self.process.exitcode != 0:
            self.queue.cancel_join_thread()  # nobody reads what is left: drop it rather than wait for it
        self.queue.close()
        return self.process.exitcode == 0


def _record(home: str, log_file: str, queue: Any) -> None:
    """The recording process: write what `_Recorder` sends into the instance at `home`, until told to stop (or the
    process that sends is gone). Ctrl-C stops the run, not the recording of what it did."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    try:
        with _instance_at(Path(home)) as target:
            while (item := _next(queue, parent)) is not None:
                kind, value, snapshots = item
                if kind == "event":
                    target.handle_new_event(deserialize_value(value, dg.EventLogEntry))
                    continue
                for snapshot_id, snapshot in snapshots:
                    if snapshot_id and not target.has_snapshot(snapshot_id):
                        target.add_snapshot(deserialize_value(snapshot))
                run = deserialize_value(value, dg.DagsterRun)
                if not target.has_run(run.run_id):
                    target.add_run(run)
    except Exception:
        with open(log_file, "a") as log:
            log.write(f"recording the run for the Dagster UI failed:\n{traceback.format_exc()}")
        sys.exit(1)


def _next(queue: Any, parent: int) -> Any:
    """The next item sent; None when told to stop, or when the sending process is gone."""
    while True:
        try:
            return queue.get(timeout=5)
        except Empty:
            if os.getppid() != parent:
                return None


@contextmanager
def _instance_at(home: Path) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance at `home`, opened by one process at a time: runs side by side (and their recording
    processes) on a new home would race to create its SQLite tables ("table ... already exists")."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lakemesh-open.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        instance = dg.DagsterInstance.from_config(str(home))
        instance.has_run("-")  # the run storage's tables
        instance.get_latest_materialization_event(dg.AssetKey("-"))  # the event log's index
        fcntl.flock(lock, fcntl.LOCK_UN)
    with instance:
        yield instance


def prepare_instance_home(home: Path) -> None:
    """Give a Dagster home without its own `dagster.yaml` one that says what it is (and sends no telemetry)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_INSTANCE_CONFIG)


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
    products = {_product_name(key): key for key in graph.materializable_asset_keys}

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


def materialize_mesh(
    locations: dict[str, dg.Definitions],
    *,
    instance: dg.DagsterInstance,
    log_file: Path,
    settings: Settings | None = None,
    selected: Collection[dg.AssetKey] | None = None,
    echo: bool = False,
    on_event: Callable[[dg.EventLogEntry], None] | None = None,
    record_into: Path | None = None,
    on_plan: Callable[[Sequence[Build]], None] | None = None,
) -> MeshRun:
    """Bring every asset of every location up to date (`catch_up`: the partitions and products that are missing or
    older than what they read), or build the `selected` ones in full, reading the others at their published
    versions; in this process, one Dagster run per partition range, reporting step events as they happen.

    An asset is left out of a later run where an input failed (or was left out) on days it reads. Dagster's and
    dbt's messages go to `log_file` (and stderr too with `echo`), not to the console. With `record_into` (the UI's
    Dagster home), the runs, their steps, materializations and check results are recorded there as they happen;
    Dagster's debug events stay in the run log. `on_plan` hears the plan before the first run starts.
    """
    if record_into is not None:
        with _instance_at(record_into) as recorded:
            _close_abandoned_runs(recorded)
    else:
        _close_abandoned_runs(instance)
    job = _mesh_job(locations)
    graph = job.asset_layer.asset_graph
    plan = catch_up(graph, settings=settings or Settings.from_env(), selected=selected)
    if on_plan:
        on_plan(plan)
    recording = record_into is not None and bool(plan)
    recorder = _Recorder(source=instance, home=record_into, log_file=log_file) if recording else None

    def handle(entry: dg.EventLogEntry) -> None:
        if on_event and entry.dagster_event_type in _WATCHED:
            on_event(entry)
        if recorder and entry.dagster_event_type in _RECORDED:
            recorder.record(entry)

    wanted = (_WATCHED if on_event else set()) | (_RECORDED if recorder else set())
    follower = _Follower(instance, wanted, handle) if wanted else None
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
            if follower is not None:
                follower.follow(run_id)
            try:
                result = _run_once(job, keys, run_id=run_id, partitions=build.partitions, instance=instance,
                                   log_file=log_file, echo=echo)  # fmt: skip
            finally:
                if follower is not None:
                    follower.ended(run_id)
            runs.append(result)
            for key in keys:
                if _step_failed(result, key):
                    lost.setdefault(key, []).append(build.writes[key])
            if _interrupted(result):  # Ctrl-C, SIGTERM: the run stopped there, the plan's later runs with it
                break
    finally:
        if follower is not None:
            follower.close()
        recorded = (recorder.close() if recorder is not None else True) and not (follower and follower.failures)
    return MeshRun(job=job, planned=plan, runs=runs, recorded=recorded)


class _Follower:
    """Hands each event of the followed runs, of the types wanted, to `handle`, in order, from its own thread,
    as the runs go (one after the other: a run's events are read to its end before the next run's)."""

    def __init__(
        self, instance: dg.DagsterInstance, wanted: set[DagsterEventType], handle: Callable[[dg.EventLogEntry], None]
    ) -> None:
        self.instance, self.wanted, self.handle = instance, wanted, handle
        self.runs: list[str] = []
        self.failures: list[Exception] = []
        self.over: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def follow(self, run_id: str) -> None:
        self.runs.append(run_id)

    def ended(self, run_id: str) -> None:
        """The run loop is done with `run_id` (even if Dagster never closed it: a second Ctrl-C)."""
        self.over.add(run_id)

    def close(self) -> None:
        """Wait until every event of every followed run is handled."""
        self.stop.set()
        self.thread.join()

    def _follow(self) -> None:
        done, cursor = 0, None
        while True:
            stopping = self.stop.is_set()
            if done >= len(self.runs):
                if stopping:
                    return
                self.stop.wait(0.2)
                continue
            run_id = self.runs[done]
            try:
                run = self.instance.get_run_by_id(run_id)  # before reading: a run seen finished wrote everything
                records = self.instance.get_records_for_run(run_id, cursor=cursor, of_type=self.wanted)
            except OperationalError:  # the in-memory database is shared with the run writing it: "table is locked"
                self.stop.wait(0.05)
                continue
            for record in records.records:
                try:
                    self.handle(record.event_log_entry)
                except Exception as error:  # the display or the recording of one event: not the run's business
                    self.failures.append(error)
            cursor = records.cursor
            if records.records:
                continue
            over = run.is_finished if run is not None else stopping
            over = over or (stopping and run_id in self.over)  # over for the run loop, closed or not
            if over and (done + 1 < len(self.runs) or stopping):
                done, cursor = done + 1, None  # the next run starts only after this one is over
                continue
            self.stop.wait(0.2)


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    errors = [event.step_failure_data.error for event in result.all_events if event.is_step_failure]
    errors += [event.event_specific_data.error for event in result.all_events if event.is_run_failure]
    return any(_innermost(error).cls_name in _INTERRUPTED for error in errors if error is not None)


def _innermost(error: Any) -> Any:
    while error.cause is not None:
        error = error.cause
    return error


def _step_failed(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> bool:
    step = result.job_def.asset_layer.get_op_output_handle(key).node_handle.name
    return any(event.is_step_failure and event.step_key == step for event in result.all_events)


def _run_once(
    job: dg.JobDefinition,
    keys: Collection[dg.AssetKey],
    *,
    run_id: str,
    partitions: tuple[str, str] | None,
    instance: dg.DagsterInstance,
    log_file: Path,
    echo: bool,
) -> dg.ExecuteInProcessResult:
    """One Dagster run of `keys` (over the partition range `partitions`)."""
    tags = {"lakemesh/mesh": "all", _PROCESS_TAG: f"{socket.gethostname()}:{os.getpid()}"}
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


_INTERRUPTED = {"DagsterExecutionInterruptedError", "KeyboardInterrupt"}


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


def _product_name(key: dg.AssetKey) -> str:
    return key.to_user_string().replace("/", ".")


def _checks_of_run(run: MeshRun, published: set[str]) -> dict[str, str]:
    """For each product this run published: its checks as this run judged them (not the catalog's last run,
    which may be a concurrent run's)."""
    judged: dict[str, dict[str, bool]] = {}
    for evaluation in run.get_asset_check_evaluations():  # a warning (drift below its failing bound) passes
        passed = evaluation.passed or evaluation.severity == dg.AssetCheckSeverity.WARN
        checks = judged.setdefault(_product_name(evaluation.asset_key), {})
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
    published = {_product_name(e.asset_key) for e in run.get_asset_materialization_events()}
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
    for node in graph.asset_nodes:
        name = _product_name(node.key)
        if not node.is_materializable:
            continue
        if step_of(node.key) in failures:  # in one of its runs: another range of it may have been published
            outcomes[name] = f"failed: {failure_reason(failures[step_of(node.key)], product=name)}"
        elif name in published:
            continue
        elif node.key in planned:
            outcomes[name] = "not run: an input failed" if an_input_failed(node.key) else "not run: the run stopped"
    return outcomes


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
            built[_product_name(key)] = "whole"
            continue
        every = definition.get_partition_keys()
        spans = partition_ranges(sorted(set(keys), key=every.index), every)
        built[_product_name(key)] = ", ".join(first if first == last else f"{first}...{last}" for first, last in spans)
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
    selected_names = {_product_name(key) for key in selected} if selected is not None else None
    catalog = Catalog(settings.catalog_url)
    outcomes = _outcomes(run) if run is not None else {}
    built = _built(run) if run is not None else {}
    statuses = []
    for name, path in settings.contract_paths().items():
        try:
            contract = load_contract(path)
        except ContractInvalid as error:
            statuses.append(
                ProductStatus(name=name, owner="-", rows=None, version=None, contract_version="-", checks=str(error))
            )
            continue
        try:
            version, rows = _published(settings.table_uri(name), settings)
            checks = _last_checks(catalog, name, settings)
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
            )
        )
    if run is not None:
        statuses += _models_of_run(run, outcomes, products=set(settings.contract_paths()))
    return sorted(statuses, key=lambda status: status.name)


def _models_of_run(run: MeshRun, outcomes: Mapping[str, str], *, products: set[str]) -> list[ProductStatus]:
    """The run's assets that are no product (a model): its registered version and its gate, as a summary row."""
    registered = {
        _product_name(event.asset_key): event.materialization.metadata["model_version"].value
        for event in run.get_asset_materialization_events()
        if "model_version" in event.materialization.metadata
    }
    rows = []
    for node in run.job.asset_layer.asset_graph.asset_nodes:
        name = _product_name(node.key)
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
