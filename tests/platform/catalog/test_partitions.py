"""The catalog shows which partitions of a partitioned product exist and the version that holds each, as the
product's Delta log has them: a later partition's commit replaces only its own days."""

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import requests
from lakemesh import Settings, publish
from lakemesh.catalog import Catalog
from lakemesh.catalog.entries import PartitionEntry, current_partitions

from ..conftest import contract_doc, write_contract
from ..contracts.test_partitioning import COLUMNS
from .conftest import serving

AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_each_partition_is_held_by_the_last_version_that_replaced_it():
    at = [AT + timedelta(minutes=n) for n in range(4)]
    versions = [("0", "", at[0]), ("1", "1995-06-01...1995-06-30", at[1]), ("2", "1995-06-15", at[2]),
                ("3", "1995-06-30", at[3])]  # fmt: skip
    assert current_partitions(versions) == [
        PartitionEntry(first="1995-06-01", last="1995-06-14", version="1", created_at=at[1]),
        PartitionEntry(first="1995-06-15", last="1995-06-15", version="2", created_at=at[2]),
        PartitionEntry(first="1995-06-16", last="1995-06-29", version="1", created_at=at[1]),
        PartitionEntry(first="1995-06-30", last="1995-06-30", version="3", created_at=at[3]),
        PartitionEntry(first=None, last=None, version="0", created_at=at[0]),  # the whole table's rest
    ]
    assert current_partitions([*versions, ("4", "", at[3])]) == [
        PartitionEntry(first=None, last=None, version="4", created_at=at[3])  # a whole table replaces them all
    ]
    unknown = [("0", None, at[0]), ("1", "1995-06", at[1]), ("2", "bad key", at[2])]  # recorded before; not a key
    assert [(p.first, p.version) for p in current_partitions(unknown)] == [("1995-06", "1")]
    monthly = current_partitions([("0", "1995-01...1995-12", at[0]), ("1", "1995-06", at[1])])
    assert [(p.first, p.last, p.version) for p in monthly] == [
        ("1995-01", "1995-05", "0"), ("1995-06", "1995-06", "1"), ("1995-07", "1995-12", "0")
    ]  # fmt: skip


def test_the_product_page_shows_the_partitions_and_their_versions(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=COLUMNS))

    def day(when: date, ids: list[int]) -> pl.DataFrame:
        return pl.DataFrame({"id": ids, "order_date": [when] * len(ids)})

    june = pl.concat([day(date(1995, 6, 1), [1]), day(date(1995, 6, 2), [2]), day(date(1995, 6, 3), [3])])
    publish(
        june, contract=contract, settings=settings, run_id=str(uuid.uuid4()), partition=("1995-06-01", "1995-06-03")
    )
    publish(
        day(date(1995, 6, 2), [4]),
        contract=contract,
        settings=settings,
        run_id=str(uuid.uuid4()),
        partition="1995-06-02",
    )  # fmt: skip  (a corrected day)

    catalog = Catalog(settings.catalog_url)
    held = [(p.first, p.last, p.version) for p in catalog.product("shop.events").partitions]
    assert held == [("1995-06-01", "1995-06-01", "0"), ("1995-06-02", "1995-06-02", "1"),
                    ("1995-06-03", "1995-06-03", "0")]  # fmt: skip
    with serving(catalog) as url:
        page = requests.get(f"{url}/products/shop.events", timeout=30).text
    assert '<table id="partitions">' in page
    assert "<tr><td>1995-06-02</td><td>1</td>" in page and "<tr><td>1995-06-03</td><td>0</td>" in page
