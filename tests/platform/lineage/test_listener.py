"""Spark's listener events are all sent, or set aside with why: none stay in the outbox unsent."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from lakemesh import Settings
from lakemesh.catalog import Catalog
from lakemesh.catalog import model as m
from lakemesh.lineage.listener import forward_abandoned_listener_events, forward_listener_events

from ...conftest import exited_pid
from ..catalog.events import dataset, run_event


def _events_file(settings: Settings, pid: int, *lines: bytes) -> Path:
    folder = settings.outbox_dir / "spark"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{pid}-abcdef01.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def _event(job: str) -> bytes:
    return json.dumps(run_event(job, outputs=[dataset(f"{job}_out")])).encode() + b"\n"


def _jobs(settings: Settings) -> list[str]:
    with Catalog(settings.catalog_url).engine.connect() as db:
        return sorted(db.scalars(sa.select(m.jobs.c.name)))


def test_a_finished_file_is_sent_its_unfinished_line_set_aside_and_nothing_left_behind(settings: Settings):
    path = _events_file(settings, os.getpid(), _event("first"), _event("second"), b'{"eventType": "STA')

    assert forward_listener_events(path, settings=settings, finished=True) == 2

    assert _jobs(settings) == ["first", "second"]
    assert not path.exists() and not path.with_suffix(".offset").exists()
    assert path.with_suffix(".refused").read_bytes() == b'{"eventType": "STA\n'


def test_the_files_of_dead_processes_are_forwarded_and_those_of_live_ones_left(settings: Settings):
    dead = _events_file(settings, exited_pid(), _event("killed_run"))
    live = _events_file(settings, os.getpid(), _event("running"))

    assert forward_abandoned_listener_events(settings=settings) == 1

    assert _jobs(settings) == ["killed_run"] and not dead.exists() and live.exists()


@pytest.mark.spark
@pytest.mark.slow
def test_a_spark_application_s_run_is_closed_when_its_session_stops(settings: Settings, tmp_path: Path):
    script = (
        "from lakemesh.compute.spark import spark_session, forward_spark_lineage, stop_spark_session\n"
        "from lakemesh import Settings\n"
        "spark = spark_session()\n"
        f"spark.range(3).write.format('delta').save({str(tmp_path / 'table')!r})\n"
        "forward_spark_lineage(settings=Settings.from_env())\n"
        "stop_spark_session()\n"
    )
    env = {**os.environ, "LAKEMESH_LOGS": str(tmp_path / "logs")}
    env.pop("LAKEMESH_SPARK_MASTER", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    with Catalog(settings.catalog_url).engine.connect() as db:
        states = db.execute(sa.select(m.jobs.c.name, m.runs.c.state).join(m.jobs)).all()
    assert states and all(state != "RUNNING" for _, state in states), states
    assert not list((settings.outbox_dir / "spark").glob("*.jsonl"))  # sent whole, nothing left waiting
