"""The Spark resource: a bad master or Java fails fast and clearly, and the working session survives it."""

import socket
import time
from pathlib import Path

import pytest
from lakemesh import JavaNotFound, SparkUnavailable
from lakemesh.compute import spark_session

pytestmark = pytest.mark.spark


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def test_an_unreachable_master_fails_within_the_timeout_naming_the_url(spark):
    url = f"spark://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(SparkUnavailable, match=rf"the Spark master {url} cannot be reached .*within 2 s"):
        spark_session(master=url, connect_timeout=2)
    assert time.monotonic() - started < 30  # bounded: not Spark's own minute of registration retries
    assert spark.range(3).count() == 3  # the working session was not stopped for it
    with pytest.raises(SparkUnavailable, match=r"the Spark master sc://127.0.0.1:\d+ cannot be reached"):
        spark_session(master=f"sc://127.0.0.1:{_closed_port()}", connect_timeout=2)


def test_a_wrong_java_home_is_named_and_the_working_session_survives(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(JavaNotFound, match=r"JAVA_HOME is .*no-jdk, but .*no-jdk/bin/java is not an executable Java"):
        spark_session(conf={"spark.app.name": "another"})  # another conf: a new session would be needed
    assert spark.range(3).count() == 3


def test_the_session_is_delta_ready_and_utc(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert "DeltaSparkSessionExtension" in spark.conf.get("spark.sql.extensions")
    assert spark_session() is spark  # the same master and conf: the same session
