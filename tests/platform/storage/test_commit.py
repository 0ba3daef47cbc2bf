"""The commit record: what the platform writes into a Delta commit is read back the same, whichever engine wrote it."""

import json
import uuid

import polars as pl
from deltalake import DeltaTable
from lakemesh import Settings, publish
from lakemesh.storage.commit import PublishCommit, published_fields

from ..conftest import contract_doc, write_contract

COLUMNS = [{"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True}]


def test_a_publish_commit_reads_back_every_field_it_wrote(project, settings: Settings):
    contract = write_contract(project, contract_doc("shop.events", columns=COLUMNS))
    run = str(uuid.uuid4())
    publish(pl.DataFrame({"id": [1]}), contract=contract, settings=settings, run_id=run, step="s", code_version="c1")
    info = DeltaTable(settings.table_uri("shop.events")).history(1)[0]

    record = PublishCommit.read(info)

    assert record is not None
    assert (record.run_id, record.app_id) == (run, f"lakemesh/shop.events/{run}/s")
    assert (record.contract_id, record.contract_version, record.code_version) == ("urn:test:shop:events", "1.0.0", "c1")
    assert record.inputs == {} and record.contract_document()["id"] == "urn:test:shop:events"


def test_spark_user_metadata_reads_as_the_same_record_and_other_metadata_as_none():
    record = PublishCommit(run_id="r", app_id="a", contract_id="urn:x", inputs={"b.y": 2, "a.x": 1})
    written = record.metadata()
    assert written["lakemesh.inputs"] == '{"a.x": 1, "b.y": 2}'  # sorted by product: one text per set of inputs

    as_spark = {"version": 3, "userMetadata": json.dumps(written)}
    assert PublishCommit.read(as_spark) == PublishCommit(
        run_id="r", app_id="a", contract_id="urn:x", inputs={"a.x": 1, "b.y": 2}
    )
    assert PublishCommit.read({"userMetadata": "someone else's note"}) is None
    assert PublishCommit.read({"userMetadata": '{"team": "x"}', "operation": "WRITE"}) is None
    assert published_fields({"userMetadata": "{not json"}) == {}


def test_a_quarantine_commit_records_its_run_only():
    assert PublishCommit(run_id="r").metadata() == {"lakemesh.runId": "r"}


def test_a_damaged_inputs_field_is_read_as_unknown_not_as_an_error():
    """One foreign or damaged commit must not stop the retry check, the schema gate or reconcile on the whole log."""
    for damaged in ("not json", '["a.x"]', '{"a.x": "one"}'):
        record = PublishCommit.read({"lakemesh.appId": "a", "lakemesh.inputs": damaged, "lakemesh.contract": "{}"})
        assert record is not None and record.app_id == "a" and record.inputs is None and record.of_publish
