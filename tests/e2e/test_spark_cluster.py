"""The sample mesh on a real Spark standalone cluster (a master and a worker on 127.0.0.1), by configuration only."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pyspark
import pytest
from lakemesh import Settings
from lakemesh.compute import find_java_home

from ..conftest import PROJECT_DIR, TEST_SCALE_FACTOR

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(log: Path, text: str, *, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            pytest.fail(f"{log.name}: the process exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"{log.name} never said {text!r}:\n{log.read_text(errors='replace')[-3000:]}")


def stoppable() -> None:
    """In a daemon about to start: SIGTERM and SIGINT as the kernel has them. A JVM keeps a signal its parent
    ignores ignored, and Dagster's in-process runs set this test process's SIGTERM to its SIGINT handler, which is
    "ignore" when the suite was started in the background: the daemon would never stop."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _daemon(tmp_path: Path, name: str, *args: str, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    """Spark's own launch class, in a process group of its own so that nothing it starts outlives the test."""
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(SPARK_CLASS), *args], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=stoppable,
        )  # fmt: skip
    return process, log


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _expected(settings: Settings) -> pl.DataFrame:
    """The product computed independently with polars from the published inputs."""
    shipments = pl.read_delta(settings.table_uri("sales.shipments"))
    suppliers = pl.read_delta(settings.table_uri("supply.suppliers")).select("supplier_key")
    late = pl.col("receipt_date") > pl.col("commit_date")
    days = (pl.col("receipt_date") - pl.col("commit_date")).dt.total_days()
    return (
        shipments.join(suppliers, on="supplier_key")
        .group_by("supplier_key", ship_month=pl.col("ship_date").dt.truncate("1mo"))
        .agg(shipped_lines=pl.len(), late_lines=late.sum().cast(pl.Int64), avg_days_late=days.filter(late).mean())
        .with_columns(late_ratio=pl.col("late_lines") / pl.col("shipped_lines"))
    )


def test_the_spark_product_runs_on_a_standalone_cluster_and_leaves_no_process(settings: Settings, tmp_path: Path):
    marker = f"lakemesh-test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "JAVA_HOME": str(find_java_home()),
        "SPARK_HOME": str(SPARK_CLASS.parent.parent),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_JAVA_OPTS": f"-D{marker}",
    }
    port = _free_port()
    master_url = f"spark://127.0.0.1:{port}"
    master, master_log = _daemon(
        tmp_path, "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
        "--port", str(port), "--webui-port", str(_free_port()), env=env,
    )  # fmt: skip
    worker = None
    try:
        _wait_for(master_log, "I have been elected leader", process=master)
        worker, worker_log = _daemon(
            tmp_path, "worker", "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
            "--cores", "2", "--memory", "2g", "--webui-port", str(_free_port()), "--work-dir", str(tmp_path / "work"),
            env=env,
        )  # fmt: skip
        _wait_for(worker_log, "Successfully registered with master", process=worker)

        conf = {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.memory": "1g",
            "spark.executor.memory": "1g",
            "spark.driver.extraJavaOptions": f"-D{marker}",
            "spark.executor.extraJavaOptions": f"-D{marker}",
        }
        run_env = {**env, "LAKEMESH_SPARK_MASTER": master_url, "LAKEMESH_SPARK_CONF": json.dumps(conf)}
        run_env.pop("JAVA_HOME")  # the platform finds Java by itself
        done = subprocess.run(
            [str(Path(sys.executable).with_name("lakemesh")), "run", "--scale-factor", str(TEST_SCALE_FACTOR)],
            cwd=PROJECT_DIR,
            env={**run_env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Registering app lakemesh" in master_log.read_text()  # it ran on the cluster, not in local mode
        assert "Asked to launch executor" in worker_log.read_text()

        made = pl.read_delta(settings.table_uri("supply.supplier_delivery_performance"))
        expected = _expected(settings).select(made.columns)
        assert made.height == expected.height > 0
        assert made.sort("supplier_key", "ship_month").equals(expected.sort("supplier_key", "ship_month"))
    finally:
        for process in (worker, master):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
    groups = [p.pid for p in (master, worker) if p is not None]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (any(_group_alive(g) for g in groups) or _processes_with(marker)):
        time.sleep(0.5)
    assert not any(_group_alive(g) for g in groups), "a master or worker process outlived the test"
    assert not _processes_with(marker), f"Spark processes left behind: {_processes_with(marker)}"


def _processes_with(marker: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if marker in line and "ps -eo" not in line]
