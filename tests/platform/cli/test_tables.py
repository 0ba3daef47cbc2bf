"""Tables at 80 columns keep names and numbers whole; `--json` gives scripts the same rows."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from lakemesh import Settings
from lakemesh.cli.tables import Column, fitted_table
from rich.console import Console

from ...conftest import publish_customers

LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))


def test_a_column_that_does_not_fit_is_left_out_whole_never_cut():
    columns = [Column("name", "name"), Column("note", "note", drop=1), Column("count", "count", justify="right")]
    rows = [["supply.supplier_delivery_performance", "x" * 40, "6,001,215"]]
    console = Console(width=60, record=True, file=io.StringIO())
    console.print(fitted_table(columns, rows, width=60))
    shown = console.export_text()
    assert "supply.supplier_delivery_performance" in shown and "6,001,215" in shown
    assert "x" not in shown and "…" not in shown


def test_catalog_list_fits_80_columns_and_answers_json(settings: Settings):
    contract = publish_customers(settings)
    env = {**os.environ, "COLUMNS": "80"}

    shown = subprocess.run([LAKEMESH, "catalog", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert all(len(line) <= 80 for line in shown.stdout.splitlines()) and "…" not in shown.stdout
    assert "customers.customer" in shown.stdout

    listed = subprocess.run([LAKEMESH, "catalog", "list", "--json"], capture_output=True, text=True, env=env)
    assert json.loads(listed.stdout) == [
        {
            "product": "customers.customer",
            "owner": contract.owner,
            "access": contract.access,
            "contract_version": contract.version,
            "current_version": "0",
            "last_run": "COMPLETED",
            "retired": None,
        }
    ]
