"""Runs do not share mutable state: two at once both publish every product exactly once; a killed one leaves nothing."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable
from lakemesh import Settings, load_contracts, read
from lakemesh.orchestration.mesh import materialize_mesh
from lakemesh.quality import as_polars, validate
from lakemesh.storage.landing import read_landing

from ..conftest import PROJECT_DIR, TEST_SCALE_FACTOR, exited_pid

pytestmark = pytest.mark.slow

LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [LAKEMESH, "run", "--scale-factor", str(TEST_SCALE_FACTOR)],
        cwd=PROJECT_DIR,
        env={**os.environ, "COLUMNS": "200", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _workers_of(pid: int) -> list[int]:
    """dbt worker processes started by `pid` (their command line names their parent)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"lakemesh.producers.dbt_worker" in argv and str(pid).encode() in argv:
            found.append(int(entry.name))
    return found


def test_two_runs_at_once_both_finish_and_publish_each_product_exactly_once(settings: Settings, tmp_path: Path):
    ui_like = _start({"DAGSTER_HOME": str(tmp_path / "dagster")})  # a persistent instance, as the UI's
    cli = _start({})
    outputs = [run.communicate(timeout=600)[0] for run in (ui_like, cli)]
    assert [ui_like.returncode, cli.returncode] == [0, 0], "\n".join(o[-3000:] for o in outputs)

    for name, contract in load_contracts(PROJECT_DIR / "contracts").items():
        table = DeltaTable(settings.table_uri(name))  # once by each run, or once if the other found it built
        assert table.version() <= 1, f"{name}: {table.version() + 1} commits for two runs"
        report = validate(as_polars(read(name, settings=settings), contract.plan), contract)
        assert report.passed, f"{name}: {report.summary()}"
    assert read("sales.line_items", settings=settings).height == read_landing(settings.landing, "lineitem").height


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


def test_a_killed_run_stops_dbt_and_closes_its_dagster_run(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    home = tmp_path / "dagster"
    run = _start({"DAGSTER_HOME": str(home)})
    assert run.stdout is not None
    log = Path(next(line for line in run.stdout if line.startswith("run log: ")).removeprefix("run log: ").strip())
    deadline = time.monotonic() + 300
    while not log.is_file() or 'Started execution of step "customers__nation"' not in log.read_text():
        assert time.monotonic() < deadline and run.poll() is None, run.stdout.read()[-3000:]
        time.sleep(0.05)
    workers = _workers_of(run.pid)
    assert workers, "no dbt worker found for the run"

    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=60)[0]

    assert run.returncode != 0, output[-2000:]
    time.sleep(0.5)  # the kernel delivers the parent-death signal
    assert not [pid for pid in workers if _alive(pid)], "a dbt worker outlived its run"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_runs()
        assert record.status == dg.DagsterRunStatus.FAILURE


def test_a_run_left_open_by_a_dead_process_is_closed_by_the_next(tmp_path: Path):
    @dg.asset
    def trivial() -> None:
        return None

    dead = exited_pid()
    with dg.instance_for_test() as instance:
        for run_id, pid in (("abandoned", dead), ("alive", os.getpid())):
            tags = {"lakemesh/mesh": "all", "lakemesh/process": f"{socket.gethostname()}:{pid}"}
            instance.add_run(
                dg.DagsterRun(job_name="__ASSET_JOB", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags)
            )
        locations = {"trivial": dg.Definitions(assets=[trivial])}
        assert materialize_mesh(locations, instance=instance, log_file=tmp_path / "run.log").success
        assert instance.get_run_by_id("abandoned").status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id("alive").status == dg.DagsterRunStatus.STARTED  # its process still runs
