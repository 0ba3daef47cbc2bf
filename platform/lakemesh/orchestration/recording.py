"""Following the mesh's runs as they go: their step events for the console, their record for the Dagster UI.

`lakemesh run` runs in an in-memory Dagster instance (a SQLite instance costs
~8 ms an event, and a range of partitions has thousands); what the UI shows of
each run is copied into the project's instance by a process of its own.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from typing import Any

import dagster as dg
from dagster import DagsterEventType, deserialize_value, serialize_value
from sqlalchemy.exc import OperationalError

__all__ = ["RunWatch", "instance_at", "prepare_instance_home"]

_WATCHED = {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
}
"""What the console follows of a run: each step's start and end, each materialization."""


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
        self.queue.join_thread()
        del self.queue  # its semaphores released now: `lakemesh` ends with os._exit, which runs no finalizer
        return self.process.exitcode == 0


def _record(home: str, log_file: str, queue: Any) -> None:
    """The recording process: write what `_Recorder` sends into the instance at `home`, until told to stop (or the
    process that sends is gone). Ctrl-C stops the run, not the recording of what it did."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    try:
        with instance_at(Path(home)) as target:
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
def instance_at(home: Path) -> Iterator[dg.DagsterInstance]:
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
            # over for the run loop before reading: then this read has every event it wrote. Never the run's own
            # row: the in-memory run storage has no lock, and a read of it fails the run's write ("table is locked")
            ended = run_id in self.over
            try:
                records = self.instance.get_records_for_run(run_id, cursor=cursor, of_type=self.wanted)
            except OperationalError:  # the event log is locked while the run writes: read again
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
            if ended and (done + 1 < len(self.runs) or stopping):
                done, cursor = done + 1, None  # the next run starts only after this one is over
                continue
            self.stop.wait(0.2)


class RunWatch:
    """The mesh's runs, followed one after the other from a thread of their own: their step events to `on_event`,
    and, with `record_into` (the UI's Dagster home), what the UI shows of them into that instance."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        *,
        on_event: Callable[[dg.EventLogEntry], None] | None,
        record_into: Path | None,
        log_file: Path,
    ) -> None:
        self.on_event = on_event
        self.recorder = _Recorder(source=instance, home=record_into, log_file=log_file) if record_into else None
        wanted = (_WATCHED if on_event else set()) | (_RECORDED if self.recorder else set())
        self.follower = _Follower(instance, wanted, self._handle) if wanted else None

    def _handle(self, entry: dg.EventLogEntry) -> None:
        if self.on_event and entry.dagster_event_type in _WATCHED:
            self.on_event(entry)
        if self.recorder and entry.dagster_event_type in _RECORDED:
            self.recorder.record(entry)

    def follow(self, run_id: str) -> None:
        """Follow `run_id` next: its events are read once the run before it is over."""
        if self.follower:
            self.follower.follow(run_id)

    def ended(self, run_id: str) -> None:
        """The caller is done with `run_id`, whether or not Dagster closed it (a second Ctrl-C)."""
        if self.follower:
            self.follower.ended(run_id)

    def close(self) -> bool:
        """Wait until every event is handled and recorded; False when some could not be (why is in the run log)."""
        if self.follower:
            self.follower.close()
        recorded = self.recorder.close() if self.recorder else True
        return recorded and not (self.follower and self.follower.failures)
