"""The publish gate: good batches become one Delta commit, bad ones are refused and quarantined."""

import json
import uuid
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import Catalog, ContractViolation, load_contract, publish, read
from lakemesh.settings import Settings
from lakemesh.storage.landing import read_landing

from domains.customers.products import customer
from domains.sales.products import orders as orders_producer

from ...conftest import PROJECT_DIR

RUN_1, RUN_2, RUN_BAD = (str(uuid.uuid4()) for _ in range(3))
CUSTOMER = load_contract(PROJECT_DIR / "contracts" / "customers" / "customer.yaml")


def _customers(settings: Settings) -> pl.DataFrame:
    """The real customers.customer producer over the landing file."""
    return customer.fn(read_landing(settings.landing, "customer").lazy()).collect()


def _publish(frame: pl.DataFrame, settings: Settings, run_id: str = RUN_1, **kwargs):
    return publish(frame, contract=CUSTOMER, settings=settings, run_id=run_id, **kwargs)


def _at(frame: pl.DataFrame, rows: list[int], column: str, value) -> pl.DataFrame:
    index = pl.int_range(pl.len())
    return frame.with_columns(
        pl.when(index.is_in(rows))
        .then(pl.lit(value, dtype=frame.schema[column]))
        .otherwise(pl.col(column))
        .alias(column)
    )


def test_good_batch_is_one_commit_with_metadata_and_lineage(settings: Settings):
    frame = _customers(settings)
    result = _publish(frame, settings, code_version="abc123", inputs={"customers.nation": 4})
    assert (result.version, result.rows) == (0, frame.height)
    assert read("customers.customer", settings=settings).sort("customer_key").equals(frame.sort("customer_key"))

    commit = DeltaTable(result.uri).history(1)[0]
    assert commit["lakemesh.runId"] == RUN_1
    assert commit["lakemesh.contractId"] == "urn:lakemesh:customers:customer"
    assert commit["lakemesh.contractVersion"] == "1.0.0"
    assert commit["lakemesh.codeVersion"] == "abc123"
    assert json.loads(commit["lakemesh.inputs"]) == {"customers.nation": 4}

    catalog = Catalog(settings.catalog_url)
    entry = catalog.product("customers.customer", namespace=settings.namespace)
    assert entry.current_version == "0"
    assert entry.owner == "customer-data"
    assert entry.last_run["state"] == "COMPLETED"
    assert entry.checks and all(entry.checks.values())
    assert [v.version for v in entry.versions] == ["0"]
    assert entry.contract["contractId"] == "urn:lakemesh:customers:customer"
    assert {c["name"]: c.get("classification") for c in entry.contract["columns"]}["phone"] == "pii"
    events, _ = catalog.events()
    assert [e["eventType"] for e in events] == ["COMPLETE", "START"]  # newest first
    complete = events[0]
    assert complete["inputs"][0]["facets"]["version"]["datasetVersion"] == "4"
    assert [f["name"] for f in complete["outputs"][0]["facets"]["schema"]["fields"]][:2] == ["customer_key", "name"]


def test_overwrite_twice_gives_a_new_version_and_no_duplicates(settings: Settings):
    frame = _customers(settings)
    _publish(frame, settings)
    second = _publish(frame, settings, run_id=RUN_2)
    assert second.version == 1
    assert read("customers.customer", settings=settings).height == frame.height


BAD_BATCHES = {
    "null_in_required_column": (lambda f: _at(f, [0, 5, 9], "name", None), "name", "name__not_null", 3),
    "duplicate_primary_key": (
        lambda f: _at(f, [1], "customer_key", f["customer_key"][0]),
        "customer_key",
        "primary_key__unique",
        2,
    ),
    "value_out_of_range": (lambda f: _at(f, [2, 3], "nation_key", 99), "nation_key", "nation_key__range", 2),
    "unknown_allowed_value": (
        lambda f: _at(f, [4], "market_segment", "SPACE"),
        "market_segment",
        "market_segment__allowed_values",
        1,
    ),
    "wrong_type": (lambda f: f.with_columns(pl.col("nation_key").cast(pl.Int32)), "nation_key", "schema", -1),
    "missing_column": (lambda f: f.drop("comment"), "comment", "schema", -1),
    "extra_column": (lambda f: f.with_columns(loyalty=pl.lit(1)), "loyalty", "schema", -1),
}


@pytest.mark.parametrize("case", BAD_BATCHES, ids=list(BAD_BATCHES))
def test_bad_batch_is_refused_quarantined_and_loses_nothing(settings: Settings, case: str):
    good = _customers(settings)
    _publish(good, settings)
    spoil, column, check, rows = BAD_BATCHES[case]
    bad = spoil(good)

    with pytest.raises(ContractViolation) as refused:
        _publish(bad, settings, run_id=RUN_BAD)

    message = str(refused.value)
    count = "the whole batch" if rows < 0 else f"{rows} row{'s' * (rows != 1)}"
    assert f"column '{column}', check '{check}': {count}" in message
    assert "version 0 stays current" in message
    failure = refused.value.report.failed(check)
    assert failure is not None and failure.rows == rows

    # the previous version is still the current one, and reads back whole
    assert DeltaTable(settings.table_uri("customers.customer")).version() == 0
    assert read("customers.customer", settings=settings).sort("customer_key").equals(good.sort("customer_key"))

    # the failing rows, and only they, are in the quarantine beside the product
    quarantined = pl.read_delta(settings.quarantine_uri("customers.customer"))
    assert quarantined.height == (bad.height if rows < 0 else rows)
    assert set(quarantined["_lakemesh_run_id"]) == {RUN_BAD}
    assert check in quarantined["_lakemesh_failed_checks"][0]

    entry = Catalog(settings.catalog_url).product("customers.customer", namespace=settings.namespace)
    assert entry.current_version == "0"
    assert entry.last_run["state"] == "FAILED"
    assert check in entry.last_run["facets"]["errorMessage"]["message"]
    assert entry.checks[check] is False


def test_batch_level_quality_rule_is_enforced(settings: Settings):
    with pytest.raises(ContractViolation, match=r"table, check 'has_customers': the whole batch"):
        _publish(_customers(settings).head(0), settings)
    assert not DeltaTable.is_deltatable(settings.table_uri("customers.customer"))


def test_merge_mode_upserts_on_the_primary_key(settings: Settings):
    orders = load_contract(PROJECT_DIR / "contracts" / "sales" / "orders.yaml")
    raw = orders_producer.fn(read_landing(settings.landing, "orders").lazy()).collect()
    publish(raw.head(100), contract=orders, settings=settings, run_id=RUN_1)
    changed = raw.slice(50, 100).with_columns(comment=pl.lit("updated"))
    result = publish(changed, contract=orders, settings=settings, run_id=RUN_2)
    merged = read("sales.orders", settings=settings)
    assert result.version == 1
    assert merged.height == 150
    assert merged.filter(pl.col("comment") == "updated").height == 100


def test_standard_openlineage_config_replaces_the_catalog(settings: Settings, tmp_path, monkeypatch):
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(events))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    _publish(_customers(settings), settings)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["eventType"] for e in lines] == ["START", "COMPLETE"]
    output = lines[1]["outputs"][0]  # named by its storage, with the product's name as a symlink
    assert (output["namespace"], output["name"]) == ("file", settings.table_uri("customers.customer"))
    assert output["facets"]["symlinks"]["identifiers"] == [
        {"namespace": settings.namespace, "name": "customers.customer", "type": "TABLE"}
    ]
    assert not Path(settings.catalog_url.removeprefix("sqlite:///")).exists()


def test_arrow_batches_are_gated_and_written_as_given(settings: Settings):
    frame = _customers(settings)
    result = _publish(frame.to_arrow(), settings)
    assert read("customers.customer", settings=settings).sort("customer_key").equals(frame.sort("customer_key"))
    with pytest.raises(ContractViolation, match=r"column 'name', check 'name__not_null': 1 row"):
        _publish(_at(frame, [3], "name", None).to_arrow(), settings, run_id=RUN_2)
    assert DeltaTable(result.uri).version() == 0
