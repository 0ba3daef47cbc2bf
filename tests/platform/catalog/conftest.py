"""Catalog fixtures: a store on SQLite or a real PostgreSQL, and a real uvicorn server in front of it.

PostgreSQL comes from `LAKEMESH_TEST_POSTGRES_URL` (`.ci/run` starts Debian's
server and sets it); without it, a throwaway cluster is started from the
PostgreSQL binaries on this machine. Every test gets its own database.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import psycopg
import pytest
import requests
import uvicorn
from lakemesh.catalog import Catalog
from lakemesh.catalog.api import create_app
from lakemesh.catalog.server import DEFAULT_REQUEST_TIMEOUT, server_config
from starlette.types import ASGIApp

from ...conftest import PROJECT_DIR
from ...system_packages import debian_package

TOKEN = "s3cret-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    def find() -> str | None:
        return shutil.which(name, path=os.pathsep.join(sorted(glob("/usr/lib/postgresql/*/bin"), reverse=True)))

    return debian_package("postgresql", find=find)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A superuser URL on a running PostgreSQL server."""
    if url := os.environ.get("LAKEMESH_TEST_POSTGRES_URL"):
        yield url
        return
    data = Path(tempfile.mkdtemp(prefix="lakemesh-pg-"))
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root
    if as_postgres:
        shutil.chown(data, "postgres")
    subprocess.run(
        [*as_postgres, _pg_bin("initdb"), "-D", str(data / "db"), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*as_postgres, _pg_bin("pg_ctl"), "-D", str(data / "db"), "-l", str(data / "log"), "-w", "-o",
         f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, _pg_bin("pg_ctl"), "-D", str(data / "db"), "-m", "fast", "stop"], check=False)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty catalog database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.sqlite'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    name = f"lakemesh_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    yield url
    Catalog(url).engine.dispose()
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@dataclass
class Server:
    url: str
    catalog: Catalog


@contextmanager
def serving(catalog: Catalog, **options) -> Iterator[str]:
    """The catalog app served by uvicorn on a free loopback port; yields its base URL."""
    with serving_app(create_app(catalog, **options)) as url:
        yield url


@contextmanager
def serving_app(app: ASGIApp, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> Iterator[str]:
    """`app` served as `lakemesh catalog serve` serves it (its uvicorn configuration), on a free loopback port."""
    port = free_port()
    config = server_config(app, port=port, request_timeout=request_timeout, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the catalog server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@contextmanager
def cli_serving(catalog_url: str, *args: str, env: Mapping[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`lakemesh catalog serve --url catalog_url *args` as a process; yields its base URL once it answers."""
    port = free_port()
    lakemesh = str(Path(sys.executable).with_name("lakemesh"))
    command = [lakemesh, "catalog", "serve", "--port", str(port), "--url", catalog_url, *args]
    process = subprocess.Popen(command, env=dict(env), cwd=PROJECT_DIR, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/api/v1/namespaces", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(catalog_url: str) -> Iterator[Server]:
    """A catalog server with a write token, on SQLite or PostgreSQL."""
    catalog = Catalog(catalog_url)
    with serving(catalog, token=TOKEN) as url:
        yield Server(url=url, catalog=catalog)
