"""The table and the timing line `run` ends with."""

import io
from types import SimpleNamespace

from lakemesh.cli.summary import products_table, timings_line
from rich.console import Console


def _shown(table) -> str:
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(table)
    return console.export_text()


def test_products_show_thousands_and_a_dash_where_nothing_is_published():
    products = [
        SimpleNamespace(
            name="sales.orders", owner="sales", rows=150000, version=3, contract_version="1.0.0", checks="5/5"
        ),
        SimpleNamespace(name="sales.nope", owner="sales", rows=None, version=None, contract_version="1.0.0", checks=""),
    ]
    shown = _shown(products_table(products, lakehouse="/lake")).splitlines()
    assert "Lakemesh products in /lake" in shown[0]
    assert [line.split() for line in shown if line.strip().startswith("sales.")] == [
        ["sales.orders", "sales", "150,000", "3", "1.0.0", "5/5"],
        ["sales.nope", "sales", "-", "-", "1.0.0"],
    ]


def test_timings_split_the_materialization_into_steps_and_orchestration():
    timings = {"generate": 1.0, "load": 2.0, "materialize": 10.0}
    assert timings_line(timings, wall=13.04, in_steps=7.5) == (
        "wall 13.0s: generate 1.0s, load 2.0s, materialize 10.0s (asset steps 7.5s, orchestration 2.5s)"
    )
