"""A newcomer's first hour: a run from a subfolder builds the project's one lakehouse, and `--select` runs only
what it selects, reading the rest at their published versions."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from ..conftest import TEST_SCALE_FACTOR, copy_project

pytestmark = pytest.mark.slow

LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))
SELECTED = {"sales.orders", "sales.revenue_by_nation", "logistics.shipment_features"}  # sales.orders+


def _run(*args: str, cwd: Path, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEMESH_", "OPENLINEAGE", "DAGSTER_HOME"))}
    return subprocess.run(
        [LAKEMESH, *args, "--scale-factor", str(TEST_SCALE_FACTOR)],
        cwd=cwd,
        env={**env, "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _versions(lakehouse: Path) -> dict[str, int]:
    return {
        f"{log.parent.parent.name}.{log.parent.name}": DeltaTable(str(log.parent)).version()
        for log in lakehouse.glob("*/*/_delta_log")
    }


def test_a_run_from_a_subfolder_then_a_selection_build_one_lakehouse(tmp_path: Path):
    project = copy_project(tmp_path)
    first = _run("run", cwd=project / "domains" / "sales")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert not (project / "domains" / "sales" / "lakehouse").exists()
    built = _versions(project / "lakehouse")
    assert len(built) == 13 and set(built.values()) == {0}
    with dg.DagsterInstance.from_config(str(project / ".dagster")) as instance:  # the UI's: it shows the run
        (recorded,) = instance.get_runs()
        assert recorded.status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(dg.AssetKey(["sales", "orders"])) is not None
    said = first.stdout + first.stderr  # a quiet console: MLflow's messages go to the run log
    assert "mlflow" not in said.lower() and "Failed to resolve installed pip version" not in said
    assert "registered logistics.late_delivery v1" in first.stdout
    model = next(line for line in first.stdout.splitlines() if line.startswith("logistics.late_delivery "))
    assert model.split()[2:5] == ["-", "1", "model"] and "1 passed" in model

    typo = _run("run", "--select", "sales.ordrs", cwd=project)
    assert typo.returncode == 2
    assert "there is no product sales.ordrs; did you mean sales.orders?" in " ".join(typo.stderr.split())

    selected = _run("run", "--select", "sales.orders+", cwd=project)
    assert selected.returncode == 0, selected.stdout[-3000:] + selected.stderr[-3000:]
    after = _versions(project / "lakehouse")
    assert {name for name, version in after.items() if version == 1} == SELECTED
    assert all(after[name] == 0 for name in set(after) - SELECTED)
    summary = {line.split()[0]: line for line in selected.stdout.splitlines() if line.strip().count(".") >= 1}
    assert "not selected" in summary["customers.customer"] and "passed" in summary["sales.orders"]

    orders = project / "contracts" / "sales" / "orders.yaml"  # narrowing access is a breaking change
    access = "- property: access\n  value: "
    narrowed = orders.read_text().replace(f"{access}public", f"{access}internal")
    orders.write_text(narrowed)
    broken = _run("run", "--select", "sales.orders", cwd=project, columns=80)
    assert broken.returncode == 1
    said = " ".join(broken.stdout.split())  # the whole reason on the console, wrapped at 80 columns
    assert "failed sales.orders: " in said and "Readers affected:" in said and "sales.revenue_by_nation" in said
    assert "Raise the major version (to 2.0.0)" in said
    too_wide = [line for line in broken.stdout.splitlines() if len(line) > 80]
    assert all(line.startswith("run log: ") for line in too_wide), too_wide  # a path is never broken
