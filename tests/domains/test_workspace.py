"""Dagster's own loader loads every code location of `workspace.yaml`, each on its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lakemesh.producers.dbt_project import prepare_dbt
from lakemesh.settings import Settings

from ..conftest import PROJECT_DIR, copy_project

pytestmark = pytest.mark.slow


def _validate(project: Path, home: Path, *target: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", *target],
        cwd=project,
        env={**os.environ, "DAGSTER_HOME": str(home), "LAKEMESH_PROJECT_DIR": str(project)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_location_loads_in_dagster(tmp_path: Path):
    done = _validate(PROJECT_DIR, tmp_path / "dagster", "-w", "workspace.yaml")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    for location in ("customers", "logistics", "sales", "supply"):
        assert f"Validation successful for code location {location}." in output, output[-3000:]


def test_a_broken_domain_leaves_the_other_locations_loading(tmp_path: Path):
    """Each location on its own (the workspace command may stop at the first location that fails)."""
    project = copy_project(tmp_path)
    orders = project / "contracts" / "sales" / "orders.yaml"
    orders.write_text(orders.read_text().replace("kind: DataContract", "kind: Contract"))
    prepare_dbt(Settings.from_env(project_dir=project))  # compiled once here rather than by the first loader
    for domain in ("customers", "supply"):
        done = _validate(project, tmp_path / "dagster", "-m", f"domains.{domain}.definitions")
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    broken = _validate(project, tmp_path / "dagster", "-m", "domains.sales.definitions")
    assert broken.returncode != 0
    assert "orders.yaml: field 'kind'" in broken.stdout + broken.stderr
