"""`lakemesh run` tells the truth: a product that failed or did not run says so, and the exit code is not 0."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from lakemesh import Settings
from lakemesh.storage.landing import last_landed_day

from ..conftest import PROJECT_DIR, TEST_SCALE_FACTOR, copy_project

pytestmark = pytest.mark.slow


def _run(project: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """`lakemesh run` on `project`, and its summary: product -> the checks cell."""
    env = {**os.environ, "LAKEMESH_PROJECT_DIR": str(project), "COLUMNS": "200"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lakemesh")), "run", "--scale-factor", str(TEST_SCALE_FACTOR)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = done.stdout.splitlines()
    header = next((line for line in lines if line.startswith("product ") and "checks" in line), "")
    checks, table = header.find("checks"), lines[lines.index(header) + 1 :] if header else []
    rows: dict[str, str] = {}  # product -> its checks cell (the last one, which may hold spaces and wrap)
    for line in table:
        if line[:1].isalpha() and line.split()[0].count(".") == 1:
            product = line.split()[0]
            rows[product] = line[checks:].strip()
        elif rows and line.strip() and not line[:checks].strip():  # the cell goes on under itself
            rows[product] += " " + line[checks:].strip()
    return done, rows


def test_a_failed_step_shows_in_the_summary_and_the_exit_code(settings: Settings):
    damaged = sorted((settings.landing / "lineitem").iterdir())[0]  # the first day, 1992-01-02
    damaged.write_bytes(b"PAR1 not really parquet")  # one day damaged
    for later in (*settings.landing.glob("orders/1998-*"), *settings.landing.glob("lineitem/1998-*")):
        later.unlink()  # landed through 1997-12-31
    done, rows = _run(PROJECT_DIR)
    assert last_landed_day(settings.landing) == date(1997, 12, 31)  # a run lands nothing past what has landed
    assert done.returncode == 1, done.stderr[-2000:]
    assert "failed: landing file" in rows["sales.line_items"]
    assert rows["sales.pricing_summary"] == "not run: an input failed"  # whole: it reads every day
    year = damaged.name[:4]  # by year: the other years are built, the damaged day's is not
    assert rows["sales.revenue_by_nation"].endswith(f"passed; {year} not run: an input failed")
    assert "passed" in rows["customers.customer"] and "passed" in rows["supply.parts"]


def test_a_location_that_does_not_load_stops_only_its_own_products(settings: Settings, tmp_path: Path):
    project = copy_project(tmp_path)
    orders = project / "contracts" / "sales" / "orders.yaml"
    orders.write_text(orders.read_text().replace("kind: DataContract", "kind: Contract"))
    done, rows = _run(project)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "code location sales did not load:" in done.stdout and "orders.yaml: field 'kind'" in done.stdout
    assert "field 'kind'" in rows["sales.orders"]
    assert rows["sales.pricing_summary"] == "not run: code location sales did not load"
    assert all("passed" in rows[p] for p in ("customers.customer", "customers.nation", "supply.suppliers"))
    assert not Path(settings.table_uri("sales.line_items")).exists()


def test_a_damaged_input_fails_only_its_readers_and_the_summary_is_printed(settings: Settings):
    first, _ = _run(PROJECT_DIR)
    assert first.returncode == 0, first.stderr[-2000:]
    latest = max((Path(settings.table_uri("sales.shipments")) / "_delta_log").glob("*.json"))
    latest.write_bytes(latest.read_bytes()[:100])  # a truncated latest log entry

    done, rows = _run(PROJECT_DIR)

    assert done.returncode == 1, done.stderr[-2000:]
    assert "did not load" not in done.stdout  # every location loads: none reads product data to load
    assert rows["sales.shipments"].startswith("failed: the Delta log of")  # the table wraps the rest
    assert "shipments is damaged at version 0" in " ".join(done.stdout.split())
    for reader in ("supply.supplier_delivery_performance", "logistics.shipment_features"):
        assert rows[reader] == "not run: an input failed"
    for other in ("customers.customer", "customers.nation", "supply.parts", "supply.suppliers", "sales.orders"):
        assert "passed" in rows[other], rows
