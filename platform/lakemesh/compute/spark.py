"""A SparkSession with Delta Lake configured, for any master (the orchestration hands it out as a resource).

The Delta Lake jars (and the OpenLineage listener's) are resolved from Maven
Central by Spark's own Ivy on first use and cached under
`~/.cache/lakemesh/spark` (`LAKEMESH_SPARK_CACHE`), so a first run needs no
manual step and later runs no network. The master is `local[*]` unless
configured: `spark://`, `k8s://`, `yarn` or a Spark Connect URL (`sc://`),
from the caller (the `spark` resource's config) or `LAKEMESH_SPARK_MASTER`, with any Spark conf from
the caller or `LAKEMESH_SPARK_CONF` (a JSON object). Domain code never
names any of it. A master that cannot be reached fails within
`connect_timeout` seconds, naming the URL, instead of Spark's minute of retries.
The JVM's own output goes to `spark.log` in the run logs folder, not the console.

OpenLineage's Spark listener is on every session: its events go to a file per
session (`listener_events_file()`), which the platform forwards to the catalog
after each Spark publish; a conf that sets `spark.openlineage.transport.*`
sends them elsewhere instead.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from contextlib import suppress
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from lakemesh.compute.java import find_java_home
from lakemesh.errors import SparkUnavailable, first_line
from lakemesh.lineage.naming import JOB_NAMESPACE
from lakemesh.settings import Settings, json_strings_from_env

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_MASTER",
    "OPENLINEAGE_SPARK",
    "forward_spark_lineage",
    "spark_conf",
    "spark_packages",
    "spark_session",
    "stop_spark_session",
]

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
OPENLINEAGE_SPARK = "io.openlineage:openlineage-spark_2.13:1.53.0"
"""The OpenLineage Spark listener (openlineage-python is 1.54.0; 1.53.0 is the newest listener on Maven Central)."""
CONNECT_TIMEOUT = 10.0
_DEFAULT_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",  # the platform's timestamps are UTC whatever the host's zone
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "WARN",
    # Delta's default of 50 partitions for reading its own log costs seconds on small tables
    "spark.databricks.delta.snapshotPartitions": "4",
    "spark.sql.shuffle.partitions": "16",
    "spark.driver.memory": "4g",
    "spark.extraListeners": "io.openlineage.spark.agent.OpenLineageSparkListener",
    "spark.openlineage.namespace": JOB_NAMESPACE,  # Spark's jobs sit beside the products'
}
_ACTIVE: dict[str, Any] = {}
_LOCK = threading.Lock()


def spark_packages() -> list[str]:
    """Maven coordinates Spark resolves at start: Delta Lake matching the installed pyspark and delta-spark,
    and the OpenLineage listener."""
    spark_minor = ".".join(version("pyspark").split(".")[:2])
    return [f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}", OPENLINEAGE_SPARK]


def _cache_dir() -> Path:
    if configured := os.environ.get("LAKEMESH_SPARK_CACHE"):
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lakemesh" / "spark"


def spark_conf(*, conf: Mapping[str, str] | None = None, events_file: Path | None = None) -> dict[str, str]:
    """The session's conf: the platform's defaults, then `LAKEMESH_SPARK_CONF`, then `conf` (the last word).

    The listener writes to `events_file` unless the conf names a transport of its own.
    """
    given = {**json_strings_from_env("LAKEMESH_SPARK_CONF"), **dict(conf or {})}
    listener = {}
    if events_file is not None and not any(k.startswith("spark.openlineage.transport.") for k in given):
        listener = {
            "spark.openlineage.transport.type": "file",
            "spark.openlineage.transport.location": str(events_file),
        }
    merged = {**_DEFAULT_CONF, "spark.jars.ivy": str(_cache_dir()), **listener, **given}
    packages = [p for p in merged.get("spark.jars.packages", "").split(",") if p]
    merged["spark.jars.packages"] = ",".join(dict.fromkeys([*spark_packages(), *packages]))
    return merged


def _check_reachable(master: str, *, timeout: float) -> None:
    """Fail fast, naming the URL, when no host of a `spark://` or `sc://` master accepts a connection."""
    scheme = master.split("://", 1)[0] if "://" in master else ""
    if scheme not in ("spark", "sc"):
        return
    default_port = 7077 if scheme == "spark" else 15002
    reasons = []
    for host_port in master.split("://", 1)[1].split("/", 1)[0].split(";", 1)[0].split(","):  # HA: several masters
        try:
            parsed = urlparse(f"//{host_port}")
            address = (parsed.hostname or "", parsed.port or default_port)
        except ValueError as error:
            raise SparkUnavailable(f"the Spark master URL {master} is malformed: {error}") from None
        try:
            with socket.create_connection(address, timeout=timeout):
                return
        except OSError as error:
            reasons.append(f"{host_port}: {error.strerror or error}")
    raise SparkUnavailable(
        f"the Spark master {master} cannot be reached ({'; '.join(reasons)}) within {timeout:g} s; "
        "check the URL (LAKEMESH_SPARK_MASTER or the spark resource's `master`) and that the master is running"
    )


def _log_tail(path: Path, lines: int = 15) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _start(master: str, conf: dict[str, str], *, app_name: str, java_home: Path | None, log_file: Path) -> SparkSession:
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    if master.startswith("sc://"):  # Spark Connect: the server has its own jars and conf; ours go as session conf
        remote = {k: v for k, v in conf.items() if not k.startswith(("spark.jars", "spark.driver."))}
        return SparkSession.builder.remote(master).appName(app_name).config(map=remote).getOrCreate()
    os.environ["JAVA_HOME"] = str(java_home)  # spark-submit reads it
    spark_conf_object = SparkConf().setMaster(master).setAppName(app_name).setAll(list(conf.items()))
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        try:
            gateway = launch_gateway(spark_conf_object, popen_kwargs={"stdout": log, "stderr": log})
            context = SparkContext(conf=spark_conf_object, gateway=gateway)
        except Exception as error:
            raise SparkUnavailable(
                f"Spark did not start on {master}: {first_line(error)}; "
                f"the JVM's last words ({log_file}):\n{_log_tail(log_file)}"
            ) from None
    context.setLogLevel(conf.get("spark.log.level", "WARN"))
    return SparkSession(context)


def spark_session(
    *,
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
    app_name: str = "lakemesh",
    connect_timeout: float = CONNECT_TIMEOUT,
) -> SparkSession:
    """The process's SparkSession for `master` (default `LAKEMESH_SPARK_MASTER`, else `local[*]`) and `conf`.

    One session per process: asking again with the same master and conf gives
    the same session; another master or conf stops the old one first.
    """
    master = master or os.environ.get("LAKEMESH_SPARK_MASTER") or DEFAULT_MASTER
    key = json.dumps([master, spark_conf(conf=conf)], sort_keys=True)
    with _LOCK:
        active = _ACTIVE.get("session")
        if active is not None and _ACTIVE["key"] == key and not _stopped(active):
            return active
        _check_reachable(master, timeout=connect_timeout)  # before stopping what works: a bad URL costs nothing
        java_home = None if master.startswith("sc://") else find_java_home()
        if active is not None:
            active.stop()
            _ACTIVE.clear()
        settings = Settings.from_env()
        events_file = settings.outbox_dir / "spark" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        events_file.parent.mkdir(parents=True, exist_ok=True)
        merged = spark_conf(conf=conf, events_file=events_file)
        session = _start(
            master, merged, app_name=app_name, java_home=java_home, log_file=settings.logs_dir / "spark.log"
        )
        _ACTIVE.update(session=session, key=key, events_file=events_file)
        atexit.unregister(stop_spark_session)
        atexit.register(stop_spark_session)  # a process that ends with its session open still closes its run
        return session


def forward_spark_lineage(*, settings: Settings, timeout_ms: int = 10_000) -> int:
    """Send the listener's events so far to the catalog, once Spark's listener bus has handed it every job's end.

    Never starts a session and never raises: lineage does not decide a publish (a failure is logged, and what
    was not sent goes with the next forward).
    """
    from lakemesh.lineage.listener import forward_listener_events

    with _LOCK:
        session, events_file = _ACTIVE.get("session"), _ACTIVE.get("events_file")
    if session is None or events_file is None:
        return 0
    try:
        with suppress(Exception):  # a bus still busy after the timeout: what is left goes with the next forward
            session.sparkContext._jsc.sc().listenerBus().waitUntilEmpty(timeout_ms)
        return forward_listener_events(events_file, settings=settings)
    except Exception as error:
        log.warning("Spark's lineage was not forwarded to the catalog: %s", error)
        return 0


def _stopped(session: SparkSession) -> bool:
    context = getattr(session, "_sc", None)
    return context is not None and context._jsc is None


def stop_spark_session(*, settings: Settings | None = None) -> None:
    """Stop the process's session, if any (its JVM exits with it), and forward the listener's last events.

    Stopping makes the listener write the Spark application's end: forwarded, it closes the application's run
    in the catalog, which would otherwise stay RUNNING. Run at exit too. Never raises for lineage.
    """
    from lakemesh.lineage.listener import forward_listener_events

    with _LOCK:
        session, events_file = _ACTIVE.pop("session", None), _ACTIVE.pop("events_file", None)
        _ACTIVE.clear()
    if session is None:
        return
    session.stop()
    if events_file is not None:
        try:
            forward_listener_events(events_file, settings=settings or Settings.from_env(), finished=True)
        except Exception as error:
            log.warning("Spark's last lineage events were not forwarded (they wait in %s): %s", events_file, error)
