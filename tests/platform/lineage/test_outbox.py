"""Publishing never depends on the catalog: undeliverable events wait in the outbox, in order, and arrive later."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import polars as pl
import pytest
from lakemesh import Catalog, ContractViolation, Settings, publish, read

from ..conftest import contract_doc, write_contract

COLUMNS = [
    {"name": "id", "logicalType": "integer", "primaryKey": True},
    {"name": "amount", "logicalType": "integer", "logicalTypeOptions": {"minimum": 0}},
]
BATCH = pl.DataFrame({"id": [1, 2, 3], "amount": [5, 6, 7]})


@pytest.fixture
def catalog_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenLineage configured to post to a port where nothing listens."""
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", "http://127.0.0.1:9")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TIMEOUT", "2")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY__TOTAL", "0")


def _event_types(settings: Settings) -> list[str]:
    events, _ = Catalog(settings.catalog_url).events(limit=100)
    return [e["eventType"] for e in reversed(events)]  # oldest first


def test_a_lineage_failure_after_the_commit_does_not_fail_the_publish(
    project: Path, settings: Settings, catalog_down: None, monkeypatch: pytest.MonkeyPatch
):
    contract = write_contract(project, contract_doc(columns=COLUMNS, mode="append"))
    run = str(uuid.uuid4())
    result = publish(BATCH, contract=contract, settings=settings, run_id=run, step="shop__events")
    assert (result.version, result.duplicate) == (0, False)
    assert read("shop.events", settings=settings).height == 3
    assert len(list(settings.outbox_dir.glob("*.json"))) == 2  # START and COMPLETE wait

    # the step is retried (its COMPLETE was never seen): nothing is written twice
    retry = publish(BATCH, contract=contract, settings=settings, run_id=run, step="shop__events")
    assert (retry.version, retry.duplicate) == (0, True)
    assert read("shop.events", settings=settings).height == 3

    for name in [name for name in os.environ if name.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)
    publish(BATCH.with_columns(id=pl.col("id") + 10), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    assert list(settings.outbox_dir.glob("*.json")) == []
    assert _event_types(settings) == ["START", "COMPLETE", "START", "COMPLETE", "START", "COMPLETE"]
    entry = Catalog(settings.catalog_url).product("shop.events", namespace=settings.namespace)
    assert entry.current_version == "1" and entry.last_run["state"] == "COMPLETED"


def test_a_refusal_is_reported_even_when_its_fail_event_cannot_be_sent(
    project: Path, settings: Settings, catalog_down: None
):
    contract = write_contract(project, contract_doc(columns=COLUMNS))
    with pytest.raises(ContractViolation, match=r"check 'amount__range': 1 row \(e.g. -1\)"):
        publish(
            BATCH.with_columns(amount=pl.Series([5, -1, 7])),
            contract=contract,
            settings=settings,
            run_id=str(uuid.uuid4()),
        )
    assert len(list(settings.outbox_dir.glob("*.json"))) == 2  # START and FAIL wait
    assert not Path(settings.table_uri("shop.events")).exists()


def test_catalog_sync_delivers_the_outbox(project: Path, settings: Settings, catalog_down: None):
    contract = write_contract(project, contract_doc(columns=COLUMNS))
    publish(BATCH, contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    lakemesh = str(Path(sys.executable).with_name("lakemesh"))
    down = subprocess.run([lakemesh, "catalog", "sync"], capture_output=True, text=True, env=os.environ.copy())
    assert down.returncode == 2
    assert "0 event(s) delivered, 2 still waiting" in down.stderr and "Traceback" not in down.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    up = subprocess.run([lakemesh, "catalog", "sync"], capture_output=True, text=True, env=env)
    assert up.returncode == 0 and "2 event(s) delivered" in up.stdout, up.stderr
    assert _event_types(settings) == ["START", "COMPLETE"]
    assert list(settings.outbox_dir.glob("*.json")) == []


def test_a_quarantine_that_cannot_be_written_never_hides_the_refusal(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=COLUMNS))
    publish(BATCH, contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    blocked = Path(settings.quarantine_uri("shop.events"))
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the quarantine table would go")
    with pytest.raises(ContractViolation) as refused:
        publish(BATCH.with_columns(amount=pl.lit(-1)), contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    message = str(refused.value)
    assert "check 'amount__range': 3 rows" in message and "version 0 stays current" in message
    assert "the failing rows could NOT be quarantined" in message
    assert read("shop.events", settings=settings)["amount"].to_list() == [5, 6, 7]
    assert blocked.read_text() == "a file where the quarantine table would go"


def test_a_publish_stands_when_its_events_can_be_neither_sent_nor_kept(
    project: Path, settings: Settings, catalog_down: None
):
    settings.outbox_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.outbox_dir.write_text("a file where the outbox folder would go")
    contract = write_contract(project, contract_doc(columns=COLUMNS))
    result = publish(BATCH, contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    assert result.version == 0 and read("shop.events", settings=settings).height == 3
