"""One project, one lakehouse: paths resolve against the project root, a run keeps to one scale factor of landing
data, and `lakemesh reset` removes the local lakehouse after a confirmation."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable
from lakemesh import Settings

from ...conftest import PROJECT_DIR, publish_customers

LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))
LOCATIONS = ("LAKEMESH_LAKEHOUSE", "LAKEMESH_LANDING", "LAKEMESH_CATALOG", "LAKEMESH_DUCKDB_DIR", "LAKEMESH_OUTBOX")


def _lakemesh(*args: str, input: str | None = None, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAKEMESH, *args], capture_output=True, text=True, input=input, cwd=cwd, timeout=120, env=os.environ.copy()
    )


def test_a_subfolder_of_the_project_uses_the_project_s_lakehouse(monkeypatch: pytest.MonkeyPatch):
    for name in (*LOCATIONS, "LAKEMESH_PROJECT_DIR", "LAKEMESH_LOGS", "LAKEMESH_CATALOG_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(PROJECT_DIR / "domains" / "sales")
    here = Settings.from_env()
    assert here.project_root == PROJECT_DIR
    assert (here.lakehouse, here.landing) == (str(PROJECT_DIR / "lakehouse"), PROJECT_DIR / "lakehouse" / "_landing")
    assert here.catalog_url == f"sqlite:///{PROJECT_DIR / 'lakehouse' / '_catalog.sqlite'}"
    monkeypatch.setenv("LAKEMESH_LAKEHOUSE", "elsewhere/lakehouse")  # a relative path is the project's too
    assert Settings.from_env().lakehouse == str(PROJECT_DIR / "elsewhere" / "lakehouse")


def test_a_run_at_another_scale_factor_than_the_products_is_refused_and_changes_nothing(settings: Settings):
    publish_customers(settings)
    (settings.local_dir / "_scale_factor").write_text("1")  # the products were built at scale factor 1
    landing_before = {p.name: p.stat().st_mtime_ns for p in settings.landing.iterdir()}

    done = _lakemesh("run", "--scale-factor", "0.1")

    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert message.startswith("error: this lakehouse's products were built from landing data at scale factor 1,")
    assert "Run `lakemesh reset` to rebuild at 0.1, or run with --scale-factor 1; nothing was changed" in message
    assert {p.name: p.stat().st_mtime_ns for p in settings.landing.iterdir()} == landing_before
    assert DeltaTable(settings.table_uri("customers.customer")).version() == 0
    assert (settings.local_dir / "_scale_factor").read_text() == "1"


def test_reset_removes_the_lakehouse_only_once_confirmed(settings: Settings):
    publish_customers(settings)
    lakehouse = Path(settings.lakehouse)

    declined = _lakemesh("reset", input="n\n")
    assert declined.returncode == 1 and "nothing was removed" in declined.stdout
    assert DeltaTable(settings.table_uri("customers.customer")).version() == 0
    unanswered = _lakemesh("reset", input="")  # no terminal, no answer: nothing is removed
    assert unanswered.returncode == 1 and "aborted: no answer; nothing was done" in unanswered.stderr
    assert DeltaTable(settings.table_uri("customers.customer")).version() == 0

    confirmed = _lakemesh("reset", input="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert f"removed the lakehouse at {lakehouse}" in " ".join(confirmed.stdout.split())
    assert not lakehouse.exists()


def test_reset_refuses_a_folder_that_is_no_lakehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "documents"
    (folder / "notes").mkdir(parents=True)
    monkeypatch.setenv("LAKEMESH_LAKEHOUSE", str(folder))
    done = _lakemesh("reset", "--yes")
    assert done.returncode == 2
    assert "does not look like a Lakemesh lakehouse" in done.stderr and "nothing was removed" in done.stderr
    assert (folder / "notes").is_dir()
