"""Dagster's own loader loads every code location of `workspace.yaml`, each on its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lakemesh.producers.dbt import prepare_dbt
from lakemesh.settings import Settings

from ..conftest import PROJECT_DIR, copy_project

pytestmark = pytest.mark.slow


def _validate(project: Path, home: Path) -> str:
    home.mkdir(exist_ok=True)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=project,
        env={**os.environ, "DAGSTER_HOME": str(home), "LAKEMESH_PROJECT_DIR": str(project)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout + done.stderr


def test_every_location_loads_in_dagster(tmp_path: Path):
    output = _validate(PROJECT_DIR, tmp_path / "dagster")
    for location in ("customers", "sales", "supply"):
        assert f"Validation successful for code location {location}." in output, output[-3000:]


def test_a_broken_domain_leaves_the_other_locations_loading(tmp_path: Path):
    project = copy_project(tmp_path)
    orders = project / "contracts" / "sales" / "orders.yaml"
    orders.write_text(orders.read_text().replace("kind: DataContract", "kind: Contract"))
    prepare_dbt(Settings.from_env(project_dir=project))  # compiled once here, not by three loading servers at once
    output = _validate(project, tmp_path / "dagster")
    for location in ("customers", "supply"):
        assert f"Validation successful for code location {location}." in output, output[-3000:]
    assert "Validation successful for code location sales." not in output
    assert "orders.yaml: field 'kind'" in output, output[-3000:]
