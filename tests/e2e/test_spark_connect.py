"""A Spark Connect URL as the master: a product judged and committed through a real Spark Connect server."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pyspark
import pytest
from deltalake import DeltaTable
from lakemesh import Settings
from lakemesh.compute import find_java_home, spark_conf
from lakemesh.storage.commit import published_fields

from ..platform.conftest import contract_doc, write_contract
from .test_spark_cluster import _free_port, _group_alive, stoppable

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"
RUN = "6a1f0c1e-0000-4000-8000-00000000c0c0"

CLIENT = textwrap.dedent(
    """
    import json, sys
    from lakemesh import ContractViolation, Settings, load_contract, publish
    from lakemesh.compute import spark_session

    spark = spark_session()  # the master comes from LAKEMESH_SPARK_MASTER: sc://...
    contract = load_contract(sys.argv[1])
    good = spark.createDataFrame([(1, "a"), (2, "b")], "id bigint, name string")
    result = publish(good, contract=contract, settings=Settings.from_env(), run_id=sys.argv[2], step="good")
    bad = spark.createDataFrame([(3, None), (3, "c")], "id bigint, name string")
    try:
        publish(bad, contract=contract, settings=Settings.from_env(), run_id=sys.argv[2], step="bad")
        refused = None
    except ContractViolation as violation:
        refused = str(violation)
    more = spark.createDataFrame([(4, "d")], "id bigint, name string")
    appended = publish(more, contract=contract, settings=Settings.from_env(), run_id=sys.argv[2], step="more")
    again = publish(more, contract=contract, settings=Settings.from_env(), run_id=sys.argv[2], step="more")
    print(json.dumps({
        "session": type(spark).__module__,
        "versions": [result.version, appended.version, again.version],
        "duplicate": again.duplicate,
        "refused": refused,
    }))
    """
)


def _wait_for_port(port: int, *, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """The server sets its log level to WARN, so its INFO start line never shows: wait for its gRPC port instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            pytest.fail(f"the Spark Connect server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"the Spark Connect server never listened on {port}:\n{log.read_text(errors='replace')[-3000:]}")


def test_a_product_is_published_through_spark_connect(settings: Settings, tmp_path: Path):
    columns = [
        {"name": "id", "logicalType": "integer", "physicalType": "bigint", "primaryKey": True, "required": True},
        {"name": "name", "logicalType": "string", "required": True},
    ]
    contract = write_contract(tmp_path / "project", contract_doc("shop.accounts", columns=columns, mode="append"))
    port = _free_port()
    conf = spark_conf(conf={"spark.connect.grpc.binding.port": str(port), "spark.driver.host": "127.0.0.1"})
    log = tmp_path / "connect-server.log"
    env = {**os.environ, "JAVA_HOME": str(find_java_home()), "SPARK_HOME": str(SPARK_SUBMIT.parent.parent)}
    arguments = [str(SPARK_SUBMIT), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer"]
    for key, value in conf.items():
        arguments += ["--conf", f"{key}={value}"]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*arguments, "spark-internal"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=stoppable,
        )
    try:
        _wait_for_port(port, process=server, log=log, timeout=180)
        done = subprocess.run(
            [sys.executable, "-c", CLIENT, str(contract.path), RUN],
            env={**os.environ, "LAKEMESH_SPARK_MASTER": f"sc://127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    assert outcome["session"].startswith("pyspark.sql.connect")  # a Connect client, not a local JVM
    assert outcome["versions"] == [0, 1, 1] and outcome["duplicate"]  # the retried step is not committed twice
    assert "check 'name__not_null': 1 row" in outcome["refused"] and "version 0 stays current" in outcome["refused"]
    table = DeltaTable(settings.table_uri("shop.accounts"))
    assert table.version() == 1 and sorted(pl.read_delta(table)["id"]) == [1, 2, 4]
    history = table.history()
    assert history[0]["operation"] == "MERGE"  # a keyed append goes through the Delta MERGE over Connect
    assert all(commit["engineInfo"].startswith("Apache-Spark/") for commit in history)
    assert [published_fields(commit)["lakemesh.runId"] for commit in history] == [RUN, RUN]
    assert pl.read_delta(settings.quarantine_uri("shop.accounts")).height == 2
    deadline = time.monotonic() + 30
    while _group_alive(server.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _group_alive(server.pid)
