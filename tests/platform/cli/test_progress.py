"""`run`'s live display, fed with the events of a real Dagster run: published, failed, and the failure's tail."""

import io
from pathlib import Path

import dagster as dg
from lakemesh.cli.progress import RunProgress, step_seconds
from rich.console import Console


@dg.asset(key=["shop", "events"])
def events() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"delta_version": 3})


@dg.asset(key=["shop", "broken"])
def broken() -> None:
    raise ValueError("no rows landed\nsecond line\nthe third line " + "is long enough to wrap " * 6)


def test_published_and_failed_products_are_printed_with_the_whole_reason_wrapped_to_the_terminal(tmp_path: Path):
    console = Console(file=io.StringIO(), width=80, record=True)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([events, broken], instance=instance, raise_on_error=False)
        with RunProgress(console=console) as progress:
            progress.start(total=2)
            for entry in instance.all_logs(result.run_id):
                if entry.is_dagster_event:
                    progress.on_event(entry)
            progress.finish()
        assert step_seconds(instance, run_id=result.run_id) > 0
    shown = [line.rstrip() for line in console.export_text().splitlines()]
    assert "  published shop.events v3" in shown
    assert "  failed shop.broken: no rows landed" in shown
    assert "    second line" in shown  # the whole reason, not its first line only
    long_line = next(i for i, line in enumerate(shown) if line.startswith("    the third line"))
    assert shown[long_line + 1].startswith("    ") and all(len(line) <= 80 for line in shown)
    assert [line for line in shown if line][-1].startswith("  built 1 of 2 in ")  # no bar left at 1/2, spinning
