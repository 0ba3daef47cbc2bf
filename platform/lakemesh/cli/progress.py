"""Following a run's steps: the live display while Dagster runs them, and the time they took afterwards.

Loads Dagster: `run` imports it inside its body, so the CLI starts without it.
"""

from types import TracebackType
from typing import Any, Self

import dagster as dg
from rich.console import Console
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from lakemesh.orchestration.status import failure_message

__all__ = ["RunProgress", "step_seconds"]


class RunProgress:
    """A bar over the run's products, the step running now, and a line per product published or failed.

    A failed step's whole reason is printed under it (the failed checks, a breaking change's readers and fix,
    dbt's own error), wrapped to the terminal.
    """

    def __init__(self, *, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._task: TaskID | None = None
        self._published: set[tuple[str, str]] = set()
        """(run, step) of each step that published: a range's step materializes each partition, and counts once."""

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._progress.stop()

    def start(self, *, total: int) -> None:
        """Show the bar, once the number of products to materialize is known."""
        self._task = self._progress.add_task("starting", total=total)

    def finish(self) -> None:
        """End the display with a line that stays: how many products were built, of how many, in how long (a bar
        left at 8/14 would keep a spinner frame on the console)."""
        task = self._progress.tasks[0]
        self._progress.update(self._task, visible=False)
        if not task.total:
            self._progress.console.print("  nothing to build: every product is up to date", highlight=False)
            return
        self._progress.console.print(
            f"  built {task.completed:.0f} of {task.total:.0f} in {task.elapsed or 0:.1f}s", highlight=False
        )

    def on_event(self, entry: dg.EventLogEntry) -> None:
        """Dagster's event callback: follow step starts, materializations and failures."""
        event = entry.dagster_event
        product = (event.step_key or "").replace("__", ".", 1)
        printed = self._progress.console
        if event.event_type == dg.DagsterEventType.STEP_START:
            self._progress.update(self._task, description=product)
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            if (entry.run_id, event.step_key or "") in self._published:
                return
            self._published.add((entry.run_id, event.step_key or ""))
            self._progress.advance(self._task)
            metadata = event.event_specific_data.materialization.metadata
            if "model_version" in metadata and "delta_version" not in metadata:
                done = f"registered {product} v{metadata['model_version'].value}"
            else:
                version = metadata.get("delta_version")
                done = f"published {product}" + (f" v{version.value}" if version else "")
            printed.print(f"  [green]{done}[/]", highlight=False)
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            first, *rest = failure_message(event.step_failure_data.error, product=product).splitlines()
            printed.print(Padding(Text.assemble(("failed", "red"), f" {product}: {first}"), (0, 0, 0, 2)))
            for line in [*rest, *_dbt_output(event)]:  # the whole reason, wrapped to the terminal
                printed.print(Padding(Text(line), (0, 0, 0, 4)))


def _dbt_output(event: Any, *, lines: int = 8) -> list[str]:
    """dbt's own last lines, when a dbt step failed: its error, as dbt words it."""
    failure = event.step_failure_data.user_failure_data
    output = failure.metadata.get("dbt_output") if failure else None
    return output.value.strip("`\n").splitlines()[-lines:] if output is not None else []


def step_seconds(instance: dg.DagsterInstance, *, run_id: str) -> float:
    """Time spent inside asset steps, from the run's step start/end events."""
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
