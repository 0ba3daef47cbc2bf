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


def test_too_narrow_for_any_table_each_row_becomes_a_block_with_every_value():
    columns = [Column("product", "product"), Column("delta version", "v", justify="right"), Column("state", "s")]
    rows = [["supply.supplier_delivery_performance", "12", "COMPLETED"], ["sales.orders", "3", "FAILED"]]
    console = Console(width=40, record=True, file=io.StringIO())
    console.print(fitted_table(columns, rows, width=40))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert max(len(line) for line in lines) <= 40 and "…" not in "".join(lines)
    assert lines[:3] == ["supply.supplier_delivery_performance", "  delta version  12", "  state          COMPLETED"]


def test_a_cell_is_shown_as_it_is_never_read_as_markup():
    columns = [Column("product", "product"), Column("checks", "checks", wraps=True)]
    rows = [["sales.orders", "failed: could not read [/data/landing] nor [bold]x[/bold]"]]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(fitted_table(columns, rows, width=80))  # a closing tag without its opening one raised here
    assert "could not read [/data/landing] nor [bold]x[/bold]" in console.export_text()


def test_json_for_scripts_has_no_nan_and_keeps_decimal_digits(capsys):
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from lakemesh.cli.tables import print_json

    print_json({"auc": float("nan"), "inf": float("inf"), "price": Decimal("194029.55"), "raw": b"\x00\x01",
                "when": datetime(2026, 12, 7, tzinfo=UTC), "took": timedelta(minutes=1)})  # fmt: skip
    assert json.loads(capsys.readouterr().out) == {
        "auc": None, "inf": None, "price": "194029.55", "raw": "AAE=", "when": "2026-12-07T00:00:00+00:00",
        "took": 60.0,
    }  # fmt: skip
