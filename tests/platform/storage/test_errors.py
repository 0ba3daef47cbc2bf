"""Missing or damaged tables and versions: one line naming the table and the version, nothing else touched."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import polars as pl
import pytest
from lakemesh import ProductNotFound, Settings, TableUnreadable, VersionNotFound, publish, read

from ..conftest import contract_doc, write_contract

LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))


def _lakemesh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LAKEMESH, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120)


@pytest.fixture
def three_versions(project: Path, settings: Settings) -> str:
    columns = [{"name": "id", "logicalType": "integer", "primaryKey": True}, {"name": "v", "logicalType": "integer"}]
    contract = write_contract(project, contract_doc(columns=columns, mode="merge"))
    for version in range(3):
        frame = pl.DataFrame({"id": [version, 10], "v": [version, version]})
        publish(frame, contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    return settings.table_uri("shop.events")


def test_every_version_reads_back_by_number(three_versions: str, settings: Settings):
    assert read("shop.events", version=0, settings=settings).sort("id")["v"].to_list() == [0, 0]
    assert read("shop.events", version=2, settings=settings).sort("id")["v"].to_list() == [0, 1, 2, 2]
    shown = _lakemesh("read", "shop.events", "--version", "0")
    assert shown.returncode == 0 and "shape: (2, 2)" in shown.stdout, shown.stderr


def test_a_version_that_does_not_exist_is_one_line(three_versions: str, settings: Settings):
    with pytest.raises(VersionNotFound, match=r"has no version 999; the latest is 2"):
        read("shop.events", version=999, settings=settings)
    shown = _lakemesh("read", "shop.events", "--version", "999")
    assert shown.returncode == 2 and shown.stdout == ""
    assert shown.stderr.strip().splitlines() == [f"error: {three_versions} has no version 999; the latest is 2"]


def test_a_product_never_published_is_one_line(settings: Settings):
    with pytest.raises(ProductNotFound, match="the product has never been published"):
        read("sales.nope", settings=settings)
    shown = _lakemesh("read", "sales.nope")
    assert shown.returncode == 2 and len(shown.stderr.strip().splitlines()) == 1
    assert "no product 'sales.nope'" in shown.stderr and "did you mean sales.orders?" in shown.stderr  # no contract
    debug = _lakemesh("--debug", "read", "sales.nope")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_damaged_log_names_the_table_and_the_version(three_versions: str, settings: Settings):
    entry = Path(three_versions) / "_delta_log" / f"{1:020d}.json"
    entry.write_text('{"commitInfo": {"timestamp": 1')  # cut off mid-write
    with pytest.raises(TableUnreadable) as unreadable:
        read("shop.events", settings=settings)
    assert str(unreadable.value).startswith(f"the Delta log of {three_versions} is damaged at version 1")
    assert read("shop.events", version=0, settings=settings).height == 2  # what precedes the damage still reads
    shown = _lakemesh("read", "shop.events")
    assert shown.returncode == 2 and len(shown.stderr.strip().splitlines()) == 1
    assert f"{three_versions} is damaged at version 1 (_delta_log/{1:020d}.json is damaged or missing)" in shown.stderr
    assert "backtrace" not in shown.stderr.lower() and "Traceback" not in shown.stderr


def test_a_missing_log_entry_names_the_version(three_versions: str, settings: Settings):
    (Path(three_versions) / "_delta_log" / f"{1:020d}.json").unlink()
    with pytest.raises(
        TableUnreadable, match=rf"damaged at version 1 \(_delta_log/{1:020d}.json is damaged or missing"
    ):
        read("shop.events", settings=settings)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("read", "nodot"), "error: a product name is '<domain>.<product>', got 'nodot'"),
        (("read", "shop.events", "--version", "-1"), "Invalid value for '--version'"),
    ],
    ids=["not-a-product-name", "negative-version"],
)
def test_bad_arguments_are_one_clear_line(three_versions: str, args: tuple[str, ...], said: str):
    shown = _lakemesh(*args)
    assert shown.returncode == 2 and said in shown.stderr and "Traceback" not in shown.stderr
