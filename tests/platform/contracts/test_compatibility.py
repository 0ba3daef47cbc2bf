"""Schema changes are gated against their readers: breaking ones need a new major version, additive ones evolve."""

import copy
import uuid
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import BreakingChange, ContractInvalid, Settings, publish, read
from lakemesh.lineage import ColumnInput, InputRef

from ..conftest import contract_doc, write_contract

COLUMNS = [
    {"name": "id", "logicalType": "integer", "primaryKey": True},
    {"name": "amount", "logicalType": "integer", "logicalTypeOptions": {"minimum": 0}},
    {"name": "status", "logicalType": "string", "enum": [{"value": "open"}, {"value": "done"}]},
    {"name": "note", "logicalType": "string"},
]
BATCH = pl.DataFrame({"id": [1, 2], "amount": [5, 6], "status": ["open", "done"], "note": ["a", None]})


def _doc(columns=COLUMNS, **kwargs) -> dict:
    return contract_doc(columns=copy.deepcopy(columns), **kwargs)


def _publish(project: Path, settings: Settings, doc: dict, frame: pl.DataFrame):
    contract = write_contract(project, doc)
    return publish(frame, contract=contract, settings=settings, run_id=str(uuid.uuid4()))


def _without(name: str) -> list[dict]:
    return [c for c in COLUMNS if c["name"] != name]


def _changed(name: str, **fields) -> list[dict]:
    return [{**c, **fields} if c["name"] == name else c for c in copy.deepcopy(COLUMNS)]


AMOUNT_AS_TEXT = [{"name": "amount", "logicalType": "string"} if c["name"] == "amount" else c for c in COLUMNS]


def test_a_retyped_column_a_sql_rule_still_compares_names_the_rule_the_column_and_the_file(tmp_path: Path):
    """amount made a string (a new major version) while a SQL rule still compares it with a number: the contract
    is refused in one line that names its file, the rule's place, the rule and the column as the contract types it."""
    rule = {
        "name": "no_negative",
        "type": "sql",
        "query": "select count(*) from ${object} where amount < 0",
        "mustBe": 0,
    }
    write_contract(tmp_path, _doc(quality=[rule]))  # an integer amount: the rule binds
    with pytest.raises(ContractInvalid) as refused:
        write_contract(tmp_path, _doc(AMOUNT_AS_TEXT, version="2.0.0", quality=[rule]))
    path = tmp_path / "contracts" / "shop" / "events.yaml"
    assert (refused.value.path, refused.value.field_path) == (path, "schema[0].quality[0]")
    message = str(refused.value)
    assert message.startswith(f"{path}: field 'schema[0].quality[0]': rule 'no_negative': query does not run on the ")
    assert message.endswith(
        "(at `amount < 0`); the contract declares amount as logicalType string: make the query fit "
        "(e.g. with a CAST) or change the type"
    )
    assert "\n" not in message and "Binder Error" not in message


def test_a_breaking_change_names_every_reader_of_the_column(project: Path, settings: Settings):
    first = _publish(project, settings, _doc(), BATCH)
    reader = write_contract(
        project,
        contract_doc("sales.daily", columns=[{"name": "total", "logicalType": "integer"}]),
    )
    source = InputRef(namespace=settings.namespace, name="shop.events", version=str(first.version))
    publish(
        pl.DataFrame({"total": [11]}),
        contract=reader,
        settings=settings,
        run_id=str(uuid.uuid4()),
        inputs={"shop.events": first.version},
        column_lineage={"total": [ColumnInput(dataset=source, field="amount")]},
    )
    with pytest.raises(BreakingChange) as refused:
        _publish(project, settings, _doc(_without("amount"), version="1.1.0"), BATCH.drop("amount"))
    message = str(refused.value)
    assert "shop.events: contract v1.1.0" in message and "breaks the published v1.0.0" in message
    assert "Removed property amount (schema.events.properties.amount)" in message
    assert "sales.daily (domain sales, owner sales-team; reads amount)" in message
    assert "Raise the major version (to 2.0.0)" in message
    assert DeltaTable(settings.table_uri("shop.events")).version() == 0
    assert read("shop.events", settings=settings).columns == ["id", "amount", "status", "note"]


BREAKING = {
    "column removed": (_without("note"), BATCH.drop("note")),
    "column retyped": (AMOUNT_AS_TEXT, BATCH.with_columns(pl.col("amount").cast(str))),
    "required added": (_changed("note", required=True), BATCH.with_columns(note=pl.lit("x"))),
    "allowed values narrowed": (
        _changed("status", enum=[{"value": "open"}]),
        BATCH.with_columns(status=pl.lit("open")),
    ),
    "range tightened": (_changed("amount", logicalTypeOptions={"minimum": 5}), BATCH),
    "primary key changed": (
        [{**c, "primaryKey": c["name"] in ("id", "status")} for c in copy.deepcopy(COLUMNS)],
        BATCH,
    ),
}


@pytest.mark.parametrize(("columns", "frame"), BREAKING.values(), ids=BREAKING.keys())
def test_a_breaking_change_without_a_major_version_writes_nothing(
    project: Path, settings: Settings, columns, frame: pl.DataFrame
):
    _publish(project, settings, _doc(), BATCH)
    with pytest.raises(BreakingChange, match="without a new major version; nothing was written"):
        _publish(project, settings, _doc(columns, version="1.1.0"), frame)
    assert DeltaTable(settings.table_uri("shop.events")).version() == 0


def test_narrowing_access_is_breaking(project: Path, settings: Settings):
    _publish(project, settings, _doc(), BATCH)
    with pytest.raises(BreakingChange, match="access narrowed from public to internal"):
        _publish(project, settings, _doc(version="1.0.1", access="internal"), BATCH)


def test_a_new_major_version_replaces_the_schema_and_keeps_the_old_versions_readable(project: Path, settings: Settings):
    _publish(project, settings, _doc(mode="append"), BATCH)
    result = _publish(
        project, settings, _doc(AMOUNT_AS_TEXT, version="2.0.0", mode="append"),
        BATCH.with_columns(pl.col("amount").cast(str) + "!"),
    )  # fmt: skip
    assert result.version == 1
    assert read("shop.events", settings=settings)["amount"].to_list() == ["5!", "6!"]
    assert read("shop.events", version=0, settings=settings)["amount"].to_list() == [5, 6]


@pytest.mark.parametrize("mode", ["overwrite", "append", "merge"])
def test_an_added_column_evolves_the_table_in_every_write_mode(project: Path, settings: Settings, mode: str):
    _publish(project, settings, _doc(mode=mode), BATCH)
    added = [*COLUMNS, {"name": "channel", "logicalType": "string"}]
    later = pl.DataFrame({"id": [3], "amount": [7], "status": ["open"], "note": ["c"], "channel": ["web"]})
    result = _publish(project, settings, _doc(added, version="1.1.0", mode=mode), later)
    assert result.version == 1
    rows = read("shop.events", settings=settings).sort("id")
    assert rows.columns == ["id", "amount", "status", "note", "channel"]
    expected = ["web"] if mode == "overwrite" else [None, None, "web"]
    assert rows["channel"].to_list() == expected
