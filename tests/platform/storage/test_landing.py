"""The landing zone by the day: the sample lands orders and line items one file per order day, up to `--until`
and then a day at a time; a window of days reads only its files, and a day with no data is refused by its date."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from lakemesh import Settings
from lakemesh.errors import LandingDataBad
from lakemesh.storage.landing import landing_days, landing_is_empty, last_landed_day, read_landing

from sample.tpch import generate

from ...conftest import TEST_SCALE_FACTOR
from ..cli.test_lakehouse import _lakemesh

JUNE = (date(1995, 6, 1), date(1995, 7, 1))


def test_a_day_holds_the_orders_placed_that_day_and_their_line_items(settings: Settings):
    orders = read_landing(settings.landing, "orders", days=JUNE)
    line_items = read_landing(settings.landing, "lineitem", days=JUNE)
    assert orders.height > 0 and orders["o_orderdate"].is_between(*JUNE, closed="left").all()
    assert set(line_items["l_orderkey"]) == set(orders["o_orderkey"])  # every line of June's orders, no other
    assert "o_orderdate" not in line_items.columns  # the landing table's own columns, as TPC-H has them
    one_day = read_landing(settings.landing, "orders", days=(date(1995, 6, 30), date(1995, 7, 1)))
    assert set(one_day["o_orderdate"]) == {date(1995, 6, 30)}


def test_generate_until_a_day_and_then_the_next_adds_just_that_day(tmp_path: Path, tpch_landing: Path):
    landing = tmp_path / "landing"
    generate(landing, scale_factor=TEST_SCALE_FACTOR, until=date(1995, 6, 30))
    assert last_landed_day(landing) == date(1995, 6, 30)
    assert landing_days(landing, "orders") == landing_days(landing, "lineitem")
    assert landing_days(landing, "customer") is None  # a snapshot: one file
    before = {p: p.stat().st_mtime_ns for p in (landing / "orders").iterdir()}

    added = generate(landing, scale_factor=TEST_SCALE_FACTOR, until=date(1995, 7, 1))

    days = {p for p in added if p.parent.name in ("orders", "lineitem")}
    assert {p.relative_to(landing).as_posix() for p in days} == {
        "orders/1995-07-01.parquet",
        "lineitem/1995-07-01.parquet",
    }
    assert {p: p.stat().st_mtime_ns for p in before} == before  # the days landed before are untouched
    everything = pl.read_parquet(tpch_landing / ".tpch" / "orders.parquet")
    expected = everything.filter(pl.col("o_orderdate") <= date(1995, 7, 1)).height
    assert read_landing(landing, "orders").height == expected


def test_a_day_with_no_file_or_no_rows_is_refused_by_its_date(settings: Settings):
    july = (date(1995, 7, 1), date(1995, 7, 3))
    first_of_july = settings.landing / "orders" / "1995-07-01.parquet"
    kept = pl.read_parquet(first_of_july)
    first_of_july.unlink()
    with pytest.raises(LandingDataBad, match=r"orders: no data for 1995-07-01: no file 1995-07-01.parquet"):
        read_landing(settings.landing, "orders", days=july)
    kept.clear().write_parquet(first_of_july)
    with pytest.raises(LandingDataBad, match=r"orders: no data for 1995-07-01: 1995-07-01.parquet has no rows"):
        read_landing(settings.landing, "orders", days=july)
    # the other days are still read, and nothing else in the landing zone changed
    assert read_landing(settings.landing, "orders", days=(date(1995, 7, 2), date(1995, 7, 3))).height > 0


def test_another_scale_factor_is_refused_and_nothing_changes(settings: Settings):
    before = sorted(p.name for p in (settings.landing / "orders").iterdir())
    with pytest.raises(LandingDataBad, match=r"holds TPC-H at scale factor 0.02, not 1: generate with --force"):
        generate(settings.landing, scale_factor=1, until=date(1998, 8, 2))
    assert sorted(p.name for p in (settings.landing / "orders").iterdir()) == before


def test_the_cli_generates_until_a_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAKEMESH_LANDING", str(tmp_path / "landing"))
    assert landing_is_empty(tmp_path / "landing")

    done = _lakemesh("generate", "--scale-factor", str(TEST_SCALE_FACTOR), "--until", "1992-01-31")

    assert done.returncode == 0, done.stderr
    assert "through 1992-01-31" in done.stdout
    assert last_landed_day(tmp_path / "landing") == date(1992, 1, 31)
    assert not landing_is_empty(tmp_path / "landing")
    bad = _lakemesh("generate", "--until", "1992-02-30")
    assert bad.returncode == 2 and "Invalid value for '--until'" in bad.stderr
    assert last_landed_day(tmp_path / "landing") == date(1992, 1, 31)
