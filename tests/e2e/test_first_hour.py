"""A newcomer's first hour: a run from a subfolder builds the project's one lakehouse, and `--select` runs only
what it selects, reading the rest at their published versions."""

import json
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
    scale = ["--scale-factor", str(TEST_SCALE_FACTOR)] if args[0] == "run" else []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEMESH_", "OPENLINEAGE", "DAGSTER_HOME"))}
    return subprocess.run(
        [LAKEMESH, *args, *scale],
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
        recorded = instance.get_runs()  # one per partition range (and one for the products without partitions)
        assert recorded and {run.status for run in recorded} == {dg.DagsterRunStatus.SUCCESS}
        partitioned = [run for run in recorded if "dagster/asset_partition_range_start" in run.tags]
        assert partitioned, "the partitioned products' range is its own run"
        assert instance.get_latest_materialization_event(dg.AssetKey(["sales", "orders"])) is not None
    said = first.stdout + first.stderr  # a quiet console: MLflow's messages go to the run log
    assert "mlflow" not in said.lower() and "Failed to resolve installed pip version" not in said
    assert "registered logistics.late_delivery v1" in first.stdout
    model = next(line for line in first.stdout.splitlines() if line.startswith("logistics.late_delivery "))
    assert model.split()[2:5] == ["-", "1", "model"] and "1 passed" in model

    (version,) = json.loads(_run("models", "show", "logistics.late_delivery", "--json", cwd=project).stdout)
    assert (version["version"], version["aliases"], len(version["features"])) == (1, ["champion"], 12)
    shown = _run("models", "show", "logistics.late_delivery", cwd=project, columns=80).stdout
    assert max(len(line.rstrip()) for line in shown.splitlines()) <= 80
    words = {word.strip(",") for word in shown.split()}
    assert set(version["features"]) <= words, shown  # each feature whole on a line: none broken mid-word

    typo = _run("run", "--select", "sales.ordrs", cwd=project)
    assert typo.returncode == 2
    assert "there is no product sales.ordrs; did you mean sales.orders?" in " ".join(typo.stderr.split())

    selected = _run("run", "--select", "sales.orders+", "--json", cwd=project)
    assert selected.returncode == 0, selected.stdout[-3000:] + selected.stderr[-3000:]
    after = _versions(project / "lakehouse")
    assert {name for name, version in after.items() if version == 1} == SELECTED
    assert all(after[name] == 0 for name in set(after) - SELECTED)
    summary = json.loads(selected.stdout)  # the summary alone on stdout; the progress on stderr
    assert summary["success"] and "published sales.orders v1" in selected.stderr
    products = {p["name"]: p for p in summary["products"]}
    assert products["customers.customer"]["checks"] == "not selected" and products["sales.orders"]["version"] == 1
    assert "passed" in products["sales.orders"]["checks"]

    orders = project / "contracts" / "sales" / "orders.yaml"  # narrowing access is a breaking change
    access = "- property: access\n  value: "
    narrowed = orders.read_text().replace(f"{access}public", f"{access}internal")
    orders.write_text(narrowed)
    broken = _run("run", "--select", "sales.orders", cwd=project, columns=80)
    assert broken.returncode == 1
    said = " ".join(broken.stdout.split())  # the whole reason on the console, wrapped at 80 columns
    assert "failed sales.orders: " in said and "Readers affected:" in said and "sales.revenue_by_nation" in said
    assert "Raise the major version (to 3.0.0)" in said
    too_wide = [line for line in broken.stdout.splitlines() if len(line) > 80]
    assert all(line.startswith("run log: ") for line in too_wide), too_wide  # a path is never broken
