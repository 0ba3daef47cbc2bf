"""The table and the timing line `run` ends with."""

import io
from types import SimpleNamespace

from lakemesh.cli.summary import products_table, timings_line
from rich.console import Console


def _shown(table, *, width: int = 200) -> str:
    console = Console(file=io.StringIO(), width=width, record=True)
    console.print(table)
    return console.export_text()


def test_products_show_thousands_and_a_dash_where_nothing_is_published():
    products = [
        SimpleNamespace(name="sales.orders", owner="sales", rows=150000, version=3, contract_version="1.0.0",
                        built="1995-07-01", newest="1995-06-30 (1 d behind)", checks="5/5"),
        SimpleNamespace(name="sales.nope", owner="sales", rows=None, version=None, contract_version="1.0.0",
                        built="-", newest="-", checks=""),
    ]  # fmt: skip
    shown = _shown(products_table(products, lakehouse="/lake", width=200)).splitlines()
    assert "Lakemesh products in /lake" in shown[0]
    assert [line.split() for line in shown if line.strip().startswith("sales.")] == [
        ["sales.orders", "sales", "150,000", "3", "1.0.0", "1995-07-01", "1995-06-30", "(1", "d", "behind)", "5/5"],
        ["sales.nope", "sales", "-", "-", "1.0.0", "-", "-"],
    ]


def test_at_80_columns_names_and_numbers_are_whole_and_the_optional_columns_give_way():
    """The sample mesh at scale factor 1: the longest name and the largest count of rows, and a long reason."""
    products = [
        SimpleNamespace(
            name="supply.supplier_delivery_performance",
            owner="customer-data-engineering",
            rows=6_001_215,
            version=12,
            contract_version="1.0.0",
            built="1992-01-01...1998-08-02",
            newest="1998-12",
            checks="failed: not_null(ship_date) 3 rows, e.g. order_key=[REDACTED]; row_count_between 0 rows",
        ),
        SimpleNamespace(
            name="customers.customer", owner="customer-data", rows=150_000, version=0, contract_version="1.0.0",
            built="whole", newest="-", checks="12 passed",
        ),
    ]  # fmt: skip
    shown = _shown(products_table(products, lakehouse="/lake", width=80), width=80)
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "supply.supplier_delivery_performance" in shown and "6,001,215" in shown and "12 passed" in shown
    assert "…" not in shown  # nothing is cut: a column is left out whole, the checks wrap at words
    assert "not_null(ship_date)" in " ".join(shown.split())
    header = next(line for line in lines if line.startswith("product"))
    assert header.split() == ["product", "rows", "ver", "checks"]  # owner, contract, built and newest gave way


def test_at_80_columns_a_failure_s_reason_wraps_over_a_few_lines_not_a_word_a_line():
    """The sample mesh at its default scale factor, with a breaking change: the contract column gives way."""
    reason = "failed: contract v1.0.0 breaks the published v1.0.0 without a new major version; nothing was written"
    products = [
        SimpleNamespace(name="customers.customer", owner="customer-data", rows=15_000, version=0,
                        contract_version="1.0.0", built="whole", newest="-", checks=reason),
        SimpleNamespace(name="supply.supplier_delivery_performance", owner="supply-chain", rows=600_572, version=1,
                        contract_version="1.0.0", built="up to date", newest="1998-12", checks="14 passed"),
    ]  # fmt: skip
    lines = _shown(products_table(products, lakehouse="/lake", width=80), width=80).splitlines()
    header = next(line for line in lines if line.startswith("product"))
    assert header.split() == ["product", "rows", "ver", "checks"]
    failed = lines[lines.index(header) + 2 : lines.index(next(line for line in lines if line.startswith("supply.")))]
    assert len(failed) <= 4, failed
    assert " ".join(" ".join(line.split()[3 if i == 0 else 0 :]) for i, line in enumerate(failed)) == reason


def test_timings_split_the_materialization_into_steps_and_orchestration():
    timings = {"generate": 1.0, "load": 2.0, "materialize": 10.0}
    assert timings_line(timings, wall=13.04, in_steps=7.5) == (
        "wall 13.0s: generate 1.0s, load 2.0s, materialize 10.0s (asset steps 7.5s, orchestration 2.5s)"
    )
