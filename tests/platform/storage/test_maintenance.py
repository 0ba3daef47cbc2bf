"""Bounded storage: maintenance removes what no kept version needs, and every kept version still reads."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import Settings, VersionNotFound, publish, read
from lakemesh.storage import maintain_table
from lakemesh.storage.maintenance import maintain_products

from ..conftest import contract_doc, write_contract

COLUMNS = [{"name": "id", "logicalType": "integer", "primaryKey": True}, {"name": "run", "logicalType": "integer"}]


def _data_files(uri: str) -> set[str]:
    return {p.name for p in Path(uri).glob("*.parquet")}


def _publish_runs(contract, settings: Settings, runs: int) -> None:
    for run in range(runs):
        frame = pl.DataFrame({"id": range(100), "run": [run] * 100})
        publish(frame, contract=contract, settings=settings, run_id=str(uuid.uuid4()))


def test_versions_beyond_the_retention_are_vacuumed_and_those_inside_still_read(project: Path, settings: Settings):
    contract = write_contract(
        project,
        contract_doc(
            columns=COLUMNS,
            sla=[{"property": "retention", "value": 1, "unit": "m"}],
            custom={"retainVersions": 2},
        ),
    )
    _publish_runs(contract, settings, 6)
    uri = settings.table_uri("shop.events")
    assert len(_data_files(uri)) == 6  # every overwrite kept a full copy
    assert (contract.retention_hours, contract.retain_versions) == (1 / 60, 2)
    # as if an hour had passed: every version is older than the retention, the newest two are kept by count
    done = maintain_table(uri, retention_hours=0, retain_versions=contract.retain_versions, orphan_grace_hours=0)
    assert done.oldest_kept == 4 and done.removed_files == 4
    assert len(_data_files(uri)) == 2
    for version in (4, 5):  # inside the retention: time travel works
        assert set(read("shop.events", version=version, settings=settings)["run"]) == {version}
    for version in (0, 3):  # beyond it: a clear error naming the table and the version
        with pytest.raises(VersionNotFound, match=rf"version {version} of {uri} is no longer kept"):
            read("shop.events", version=version, settings=settings)
    assert set(read("shop.events", settings=settings)["run"]) == {5}


def test_young_versions_stay_readable_whatever_their_count(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=COLUMNS, custom={"retainVersions": 1}))
    _publish_runs(contract, settings, 4)
    (done,) = maintain_products([contract], settings=settings)  # default retention: a week
    assert done.oldest_kept == 0 and done.removed_files == 0
    for version in range(4):
        assert set(read("shop.events", version=version, settings=settings)["run"]) == {version}


def test_small_files_are_compacted_and_orphans_of_failed_commits_removed(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=COLUMNS, mode="append"))
    for run in range(5):
        frame = pl.DataFrame({"id": range(run * 10, run * 10 + 10), "run": [run] * 10})
        publish(frame, contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    uri = settings.table_uri("shop.events")
    old_orphan, young_orphan = Path(uri) / "part-orphan-old.parquet", Path(uri) / "part-orphan-young.parquet"
    for orphan in (old_orphan, young_orphan):
        orphan.write_bytes(b"left by a commit that failed")
    os.utime(old_orphan, (time.time() - 2 * 3600, time.time() - 2 * 3600))
    done = maintain_table(uri, retention_hours=0, retain_versions=1)
    assert done.compacted_files == 5
    assert not old_orphan.exists() and young_orphan.exists()  # a young file may belong to a commit in flight
    assert DeltaTable(uri).get_add_actions().num_rows == 1
    assert read("shop.events", settings=settings)["id"].sort().to_list() == list(range(50))


def test_maintain_command_reports_every_table(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=COLUMNS))
    _publish_runs(contract, settings, 2)
    lakemesh = str(Path(sys.executable).with_name("lakemesh"))
    done = subprocess.run([lakemesh, "maintain"], capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "shop.events" in done.stdout and "storage maintenance" in done.stdout
    refused = subprocess.run(
        [lakemesh, "maintain", "shop.nope"], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    assert refused.returncode == 2 and refused.stderr.strip().startswith("error: no contract for shop.nope")
