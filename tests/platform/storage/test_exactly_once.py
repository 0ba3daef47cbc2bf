"""Exactly once: a retried step never writes twice, reruns never duplicate keys, concurrent writers all land."""

import json
import os
import subprocess
import sys
import time
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


def _start_at_once(contract_path: Path, batches: list[tuple[int, int, int]]) -> list[subprocess.Popen]:
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
    return processes


def _publish_at_once(contract_path: Path, batches: list[tuple[int, int, int]]) -> list[int]:
    versions = []
    for process in _start_at_once(contract_path, batches):
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


@pytest.mark.slow
def test_two_first_publishes_at_once_both_land(project: Path, settings: Settings):
    """Neither creates the table over the other's commit: one creates it, the other appends to what it finds."""
    contract = write_contract(project, contract_doc(columns=COLUMNS, mode="append"))
    versions = _publish_at_once(contract.path, [(0, 1000, 1), (5000, 6000, 2)])
    assert sorted(versions) == [0, 1]
    rows = read("shop.events", settings=settings)
    assert rows.height == 2000 and rows["id"].n_unique() == 2000


@pytest.mark.slow
def test_concurrent_appends_of_the_same_keys_never_duplicate_them(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=COLUMNS, mode="append"))
    publish(_batch(0, 10), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    processes = _start_at_once(contract.path, [(100, 1100, 1), (1000, 2000, 2)])  # 100 keys in both
    outcomes = [(p.wait(timeout=180), p.stderr.read()) for p in processes]
    assert sorted(rc for rc, _ in outcomes) == [0, 1]
    refused = next(err for rc, err in outcomes if rc)
    assert "ContractViolation" in refused and "keys already in the table" in refused
    rows = read("shop.events", settings=settings)
    assert rows["id"].n_unique() == rows.height == 1010


def test_the_commit_log_is_kept_whole_so_the_gate_and_retries_outlive_maintenance(project: Path, settings: Settings):
    from lakemesh import BreakingChange
    from lakemesh.storage import maintain_table

    contract = write_contract(project, contract_doc(columns=COLUMNS, mode="append"))
    run = str(uuid.uuid4())
    publish(_batch(0, 10), contract=contract, settings=settings, run_id=run, step="s1")
    publish(_batch(10, 20), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    uri = settings.table_uri("shop.events")
    old = time.time() - 40 * 24 * 3600  # as if the log were older than Delta's 30-day log retention
    for entry in Path(uri, "_delta_log").glob("*.json"):
        os.utime(entry, (old, old))
    maintain_table(uri, retention_hours=0, retain_versions=1)
    assert DeltaTable(uri).metadata().configuration["delta.enableExpiredLogCleanup"] == "false"
    assert len(list(Path(uri, "_delta_log").glob("*.json"))) == DeltaTable(uri).version() + 1
    retry = publish(_batch(0, 10), contract=contract, settings=settings, run_id=run, step="s1")
    assert (retry.version, retry.duplicate) == (0, True)
    dropped = write_contract(project, contract_doc(columns=COLUMNS[:1], mode="append", version="1.1.0"))
    with pytest.raises(BreakingChange, match="Removed property amount"):
        publish(_batch(20, 30).drop("amount"), contract=dropped, settings=settings, run_id=str(uuid.uuid4()))
