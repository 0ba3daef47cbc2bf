"""Exactly once: a retried step never writes twice, reruns never duplicate keys, concurrent writers all land."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import ContractViolation, Settings, publish, read

from ..conftest import contract_doc, write_contract

COLUMNS = [
    {"name": "id", "logicalType": "integer", "primaryKey": True},
    {"name": "amount", "logicalType": "integer", "required": True},
]


def _batch(start: int, stop: int, amount: int = 1) -> pl.DataFrame:
    return pl.DataFrame({"id": range(start, stop), "amount": [amount] * (stop - start)})


def _versions(settings: Settings) -> int:
    return DeltaTable(settings.table_uri("shop.events")).version()


@pytest.mark.parametrize("mode", ["append", "merge", "overwrite"])
def test_a_retried_step_returns_the_version_it_committed(project: Path, settings: Settings, mode: str):
    contract = write_contract(project, contract_doc(columns=COLUMNS, mode=mode))
    run = str(uuid.uuid4())
    first = publish(_batch(0, 1500), contract=contract, settings=settings, run_id=run, step="shop__events")
    again = publish(_batch(0, 1500), contract=contract, settings=settings, run_id=run, step="shop__events")
    assert (first.version, first.duplicate) == (0, False)
    assert (again.version, again.duplicate) == (0, True)
    assert _versions(settings) == 0 and read("shop.events", settings=settings).height == 1500
    assert again.lineage_run_id == first.lineage_run_id  # the retry's events close the first attempt's run


def test_an_append_refuses_keys_already_published(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=COLUMNS, mode="append"))
    publish(_batch(0, 1500), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    with pytest.raises(ContractViolation) as refused:
        publish(_batch(1000, 2000), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    assert "check 'primary_key__unique': 500 rows: keys already in the table" in str(refused.value)
    assert "version 0 stays current" in str(refused.value)
    assert _versions(settings) == 0
    kept = read("shop.events", settings=settings)
    assert kept.height == 1500 and kept["id"].n_unique() == 1500
    quarantined = pl.read_delta(settings.quarantine_uri("shop.events"))
    assert sorted(int(v) for v in quarantined["id"]) == list(range(1000, 1500))
    fresh = publish(_batch(1500, 2000), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    assert fresh.version == 1 and read("shop.events", settings=settings)["id"].n_unique() == 2000


def test_a_rerun_of_merge_and_overwrite_keeps_one_row_per_key(project: Path, settings: Settings):
    for product, mode in (("shop.merged", "merge"), ("shop.replaced", "overwrite")):
        contract = write_contract(project, contract_doc(product, columns=COLUMNS, mode=mode))
        for amount in (1, 2):
            publish(_batch(0, 1500, amount), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
        rows = read(product, settings=settings)
        assert rows.height == 1500 and rows["id"].n_unique() == 1500 and set(rows["amount"]) == {2}


PUBLISH_ONE = """
import sys, time
import polars as pl
from lakemesh import Settings, load_contract, publish
contract = load_contract(sys.argv[1])
start, stop, amount = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
while time.time() < float(sys.argv[5]):  # start together
    time.sleep(0.001)
frame = pl.DataFrame({"id": range(start, stop), "amount": [amount] * (stop - start)})
result = publish(frame, contract=contract, settings=Settings.from_env(), run_id=sys.argv[6])
print(result.version)
"""


def _publish_at_once(contract_path: Path, batches: list[tuple[int, int, int]]) -> list[int]:
    import time

    at = time.time() + 3
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISH_ONE, str(contract_path), *map(str, batch), str(at), str(uuid.uuid4())],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for batch in batches
    ]
    versions = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err[-3000:]
        versions.append(int(out.strip().splitlines()[-1]))
    return versions


@pytest.mark.slow
def test_two_processes_appending_at_once_lose_and_duplicate_nothing(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=COLUMNS, mode="append"))
    publish(_batch(0, 10), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    versions = _publish_at_once(contract.path, [(100, 1100, 1), (2000, 3000, 2)])
    assert sorted(versions) == [1, 2]  # each process got the version its own commit created
    rows = read("shop.events", settings=settings)
    assert rows.height == 2010 and rows["id"].n_unique() == 2010


@pytest.mark.slow
def test_two_concurrent_merges_both_land(project: Path, settings: Settings):
    """Both merges rewrite the same file: one commit conflicts and is retried against the other's result."""
    contract = write_contract(project, contract_doc(columns=COLUMNS, mode="merge"))
    publish(_batch(0, 1000), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    versions = _publish_at_once(contract.path, [(500, 1500, 7), (900, 2000, 8)])
    assert sorted(versions) == [1, 2]
    rows = read("shop.events", settings=settings).sort("id")
    assert rows.height == 2000 and rows["id"].n_unique() == 2000
    by_id = dict(zip(rows["id"], rows["amount"], strict=True))
    assert {by_id[k] for k in range(500)} == {1}
    assert {by_id[k] for k in range(500, 900)} == {7} and {by_id[k] for k in range(1500, 2000)} == {8}
    assert {by_id[k] for k in range(900, 1500)} in ({7}, {8})  # the later merge wins every shared key
    history = DeltaTable(settings.table_uri("shop.events")).history()
    assert [json.loads(c["lakemesh.inputs"]) for c in history if "lakemesh.inputs" in c] == [{}, {}, {}]
