"""Contract compilation: types and the uniqueness check's fast paths must never hide a duplicate."""

import polars as pl
import pytest
from lakemesh import load_contract
from lakemesh.quality import polars_dtype, validate

from ...conftest import PROJECT_DIR

LINE_ITEMS = load_contract(PROJECT_DIR / "contracts" / "sales" / "line_items.yaml")


def test_physical_types_map_to_polars():
    types = {c.name: polars_dtype(c.type) for c in LINE_ITEMS.plan.columns}
    assert types["order_key"] == pl.Int64
    assert types["line_number"] == pl.Int32
    assert types["quantity"] == pl.Decimal(15, 2)
    assert types["ship_date"] == pl.Date
    assert types["comment"] == pl.String


def _keys(order_keys: list[int], line_numbers: list[int]) -> pl.DataFrame:
    """Key columns only; the other checks of the contract are not under test here."""
    return pl.DataFrame(
        {"order_key": order_keys, "line_number": line_numbers}, schema={"order_key": pl.Int64, "line_number": pl.Int32}
    )


@pytest.mark.parametrize(
    ("order_keys", "line_numbers", "duplicates"),
    [
        ([1, 1, 2, 3], [1, 2, 1, 1], 0),  # sorted and unique: the linear pass decides
        ([3, 1, 2, 1], [1, 2, 1, 1], 0),  # unsorted and unique: the hash count decides
        ([1, 1, 1, 2], [1, 2, 2, 1], 2),  # sorted with an adjacent duplicate
        ([2, 1, 3, 2], [1, 1, 1, 1], 2),  # unsorted with a distant duplicate
        ([1, 2, 2, 3], [5, 1, 1, 0], 2),  # ascending first key, duplicate on the pair
    ],
)
def test_primary_key_uniqueness(order_keys, line_numbers, duplicates):
    frame = _keys(order_keys, line_numbers)
    report = validate(frame, LINE_ITEMS)
    failure = report.failed("primary_key__unique")
    assert (failure.rows if failure else 0) == duplicates
