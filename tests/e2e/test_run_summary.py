"""`lakemesh run` tells the truth: a product that failed or did not run says so, and the exit code is not 0."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lakemesh import Settings

from ..conftest import PROJECT_DIR, TEST_SCALE_FACTOR

pytestmark = pytest.mark.slow


def test_a_failed_step_shows_in_the_summary_and_the_exit_code(settings: Settings, tmp_path: Path):
    (settings.landing / "lineitem.parquet").write_bytes(b"PAR1 not really parquet")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "COLUMNS": "200"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lakemesh")), "run", "--scale-factor", str(TEST_SCALE_FACTOR)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    rows = {  # product -> its checks cell (the last one, which may hold spaces)
        cells[0]: cells[-1]
        for line in done.stdout.splitlines()
        if len(cells := line.split(maxsplit=5)) == 6
        and cells[0].count(".") == 1
        and (cells[3].isdigit() or cells[3] == "-")
    }
    assert "failed in this run: landing file" in rows["sales.line_items"]
    for dependant in ("sales.pricing_summary", "sales.revenue_by_nation"):
        assert "not run: an input failed" in rows[dependant]
    assert "passed" in rows["customers.customer"] and "passed" in rows["supply.parts"]
