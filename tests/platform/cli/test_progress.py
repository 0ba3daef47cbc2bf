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
    raise ValueError("no rows landed\nsecond line")


def test_published_and_failed_products_are_printed_with_the_failed_steps_log_tail(tmp_path: Path):
    log_file = tmp_path / "run.log"
    log_file.write_text("12:00 - shop__broken - reading landing\n12:01 - shop__events - other step\n")
    console = Console(file=io.StringIO(), width=200, record=True)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([events, broken], instance=instance, raise_on_error=False)
        with RunProgress(console=console, log_file=log_file, verbose=False) as progress:
            progress.start(total=2)
            for entry in instance.all_logs(result.run_id):
                if entry.is_dagster_event:
                    progress.on_event(entry)
            progress.finish()
        assert step_seconds(instance, run_id=result.run_id) > 0
    shown = console.export_text().splitlines()
    assert "  published shop.events v3" in shown
    assert any(line.startswith("  failed shop.broken: ") and "no rows landed" in line for line in shown)
    assert "    12:00 - shop__broken - reading landing" in shown
    assert not any("other step" in line for line in shown)
