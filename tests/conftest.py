"""Shared fixtures: a temporary lakehouse per test and small TPC-H landing data per session."""

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from lakemesh.contracts import Contract
from lakemesh.settings import Settings

from sample.tpch import generate as generate_tpch

PROJECT_DIR = Path(__file__).resolve().parents[1]
TEST_SCALE_FACTOR = 0.02  # the smallest at which TPC-H has orders every day


def exited_pid() -> int:
    """The pid of a process that has exited and been reaped: like a run killed mid-step."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def publish_customers(settings: Settings, *, rows: int | None = None) -> Contract:
    """Publish customers.customer from the landing zone as its domain builds it (its first `rows`), in a new run;
    returns its contract."""
    from lakemesh import load_contract, publish
    from lakemesh.storage.landing import read_landing

    from domains.customers.products import customer

    contract = load_contract(PROJECT_DIR / "contracts" / "customers" / "customer.yaml")
    frame = customer.fn(read_landing(settings.landing, "customer").lazy())
    built = (frame.head(rows) if rows else frame).collect()
    publish(built, contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    return contract


def copy_project(tmp_path: Path) -> Path:
    """A copy of the repository's project files (contracts, dbt, domains, sample, workspace), to change in a test."""
    project = tmp_path / "project"
    for part in ("contracts", "dbt_project", "domains", "sample", "pyproject.toml", "workspace.yaml"):
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, project / part, ignore=shutil.ignore_patterns("target", "logs", "__pycache__"))
        else:
            shutil.copy(source, project / part)
    return project


@pytest.fixture(scope="session")
def tpch_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TPC-H at a small scale factor, generated once by tpchgen-cli."""
    landing = tmp_path_factory.mktemp("tpch")
    generate_tpch(landing, scale_factor=TEST_SCALE_FACTOR)
    return landing


@pytest.fixture
def settings(tmp_path: Path, tpch_landing: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh lakehouse (with its own copy of the landing zone) and catalog for one test."""
    landing = tmp_path / "landing"
    shutil.copytree(tpch_landing, landing, ignore=shutil.ignore_patterns(".tpch"))  # not the generator's source
    monkeypatch.setenv("LAKEMESH_LAKEHOUSE", str(tmp_path / "lakehouse"))
    monkeypatch.setenv("LAKEMESH_LANDING", str(landing))
    monkeypatch.setenv("LAKEMESH_PROJECT_DIR", str(PROJECT_DIR))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))  # runs are recorded here, not in the repository
    for name in (
        *("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE__TRANSPORT__TYPE", "OPENLINEAGE_DISABLED"),
        "LAKEMESH_MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """The platform's Spark session (local[*], Delta configured), started once for the tests that need it."""
    from lakemesh.compute.spark import spark_session, stop_spark_session

    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAKEMESH_LOGS", str(tmp_path_factory.mktemp("spark-logs")))
        env.delenv("LAKEMESH_SPARK_MASTER", raising=False)
        env.delenv("LAKEMESH_SPARK_CONF", raising=False)
        session = spark_session()
    yield session
    stop_spark_session()
