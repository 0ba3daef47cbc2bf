"""The gate on polars: checks that raise are platform errors, classified values stay private, UTC everywhere."""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from lakemesh import Catalog, CheckError, ContractViolation, Settings, publish, read
from lakemesh.quality import validate

from ...conftest import PROJECT_DIR
from ..conftest import contract_doc, write_contract

RUN = "6a1f0c1e-0000-4000-8000-000000000001"


def test_a_check_that_raises_is_a_platform_error_not_a_data_failure(project: Path, settings: Settings):
    """Polars' regex engine has no look-behind: the check cannot run, which says nothing about the data."""
    contract = write_contract(
        project,
        contract_doc(columns=[{"name": "code", "logicalType": "string", "logicalTypeOptions": {"pattern": "(?<=x)y"}}]),
    )
    with pytest.raises(CheckError, match=r"shop.events: check 'code__pattern' could not be evaluated"):
        publish(pl.DataFrame({"code": ["xy"]}), contract=contract, settings=settings, run_id=RUN)
    assert not Path(settings.table_uri("shop.events")).exists()
    assert not Path(settings.quarantine_uri("shop.events")).exists()


def test_a_sql_rule_that_fails_to_run_is_a_platform_error(project: Path, settings: Settings):
    rule = {"name": "cast_fails", "type": "sql", "query": "select cast(v as integer) from ${object}", "mustBe": 1}
    contract = write_contract(project, contract_doc(columns=[{"name": "v", "logicalType": "string"}], quality=[rule]))
    with pytest.raises(CheckError, match="SQL rule 'cast_fails' failed to run"):
        validate(pl.DataFrame({"v": ["not a number"]}), contract)
    rule["query"] = "select v from ${object}"
    contract = write_contract(project, contract_doc(columns=[{"name": "v", "logicalType": "string"}], quality=[rule]))
    with pytest.raises(CheckError, match="must return one row of one value"):
        validate(pl.DataFrame({"v": ["a", "b"]}), contract)


def test_sql_rules_run_on_the_batch_with_duckdb_2(project: Path, settings: Settings):
    """DuckDB 2.0 relations have no fetchone: every SQL rule used to refuse every batch."""
    rule = {"name": "few_big", "type": "sql", "query": "select count(*) from ${object} where n > 10", "mustBe": 1}
    contract = write_contract(project, contract_doc(columns=[{"name": "n", "logicalType": "integer"}], quality=[rule]))
    result = publish(pl.DataFrame({"n": [1, 5, 20]}), contract=contract, settings=settings, run_id=RUN)
    assert result.version == 0 and result.report.passed
    with pytest.raises(ContractViolation, match=r"check 'few_big': the whole batch: measured 2, must be = 1"):
        publish(pl.DataFrame({"n": [11, 20]}), contract=contract, settings=settings, run_id=RUN, step="again")


def _customers(settings: Settings) -> pl.DataFrame:
    from lakemesh.storage.landing import read_landing

    from domains.customers.products import customer

    return customer.fn(read_landing(settings.landing, "customer").lazy()).collect()


def test_classified_values_never_leave_the_owning_domain(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """A refused batch's PII is redacted in the message, the FAIL event and the catalog; the quarantine keeps it."""
    monkeypatch.setenv("LAKEMESH_PROJECT_DIR", str(PROJECT_DIR))
    from lakemesh import load_contract

    contract = load_contract(PROJECT_DIR / "contracts" / "customers" / "customer.yaml")
    frame = _customers(settings)
    secret_phone, secret_name = "SECRET-PHONE-000", "Customer#SECRET"
    bad = frame.with_columns(
        phone=pl.when(pl.int_range(pl.len()) < 3).then(pl.lit(secret_phone)).otherwise("phone"),
        name=pl.when(pl.int_range(pl.len()) == 5).then(pl.lit(secret_name)).otherwise("name"),
        market_segment=pl.when(pl.int_range(pl.len()) == 7).then(pl.lit("SPACE")).otherwise("market_segment"),
    )
    bad = pl.concat([bad, bad.tail(1)])  # a duplicate primary key: the key column is not classified
    with pytest.raises(ContractViolation) as refused:
        publish(bad, contract=contract, settings=settings, run_id=RUN)
    message = str(refused.value)
    assert "check 'phone__pattern': 3 rows (values redacted: the column is classified)" in message
    assert "SPACE" in message  # market_segment is not classified: its examples help the producer
    assert "primary_key__unique" in message
    report = refused.value.report
    assert report.failed("phone__pattern").examples == ("<redacted>",)  # what Dagster check metadata shows

    catalog = Catalog(settings.catalog_url)
    everything = json.dumps(catalog.events()[0]) + json.dumps(
        catalog.product("customers.customer", namespace=settings.namespace).last_run
    )
    assert "SPACE" in everything and secret_phone not in everything and secret_name not in everything
    quarantine = catalog.product("customers._quarantine_customer", namespace=settings.namespace)
    assert quarantine.contract["access"] == "private"
    assert quarantine.contract["location"] == settings.quarantine_uri("customers.customer")

    kept = pl.read_delta(settings.quarantine_uri("customers.customer"))
    assert secret_phone in kept["phone"].to_list()  # the owning domain can still act on its rows


GATE_UNDER_TZ = """
import json, sys
import duckdb, pandas as pd, polars as pl
from lakemesh import Settings, publish, read, load_contract
contract = load_contract(sys.argv[1])
settings = Settings.from_env()
with duckdb.connect() as con:  # DuckDB hands TIMESTAMPTZ over in the session's (the host's) time zone
    from_duckdb = con.sql(
        "select i::bigint as id, timestamptz '2024-03-31 00:30:00+00' + i * interval 1 hour as at_tz,"
        " timestamp '2024-03-31 00:30:00' + i * interval 1 hour as at from range(4) t(i)"
    ).to_arrow_table()
result = publish(from_duckdb, contract=contract, settings=settings, run_id=sys.argv[2], step="duckdb")
zoned = pd.DataFrame({"id": [9], "at_tz": [pd.Timestamp("2024-03-31 03:30", tz="Europe/Berlin")],
                      "at": [pd.Timestamp("2024-03-31 01:30")]})
publish(zoned, contract=contract, settings=settings, run_id=sys.argv[2], step="pandas")
rows = read(contract.name, settings=settings).sort("id")
print(json.dumps({"passed": result.report.passed, "at": [str(v) for v in rows["at"]],
                  "at_tz": [str(v) for v in rows["at_tz"]], "tz": str(rows.schema["at_tz"])}))
"""


def test_the_gate_gives_the_same_answer_in_every_time_zone(project: Path, settings: Settings, tmp_path: Path):
    columns = [
        {"name": "id", "logicalType": "integer", "primaryKey": True},
        {"name": "at", "logicalType": "timestamp", "logicalTypeOptions": {"minimum": "2024-03-31T00:00:00Z"}},
        {
            "name": "at_tz",
            "logicalType": "timestamp",
            "physicalType": "timestamptz",
            "logicalTypeOptions": {"maximum": "2024-03-31T05:00:00+01:00"},
        },
    ]
    contract = write_contract(project, contract_doc(columns=columns, mode="append"))
    seen = {}
    for zone in ("UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kolkata"):
        lakehouse = tmp_path / f"lakehouse-{zone.replace('/', '-')}"
        env = {**os.environ, "TZ": zone, "LAKEMESH_LAKEHOUSE": str(lakehouse), "LAKEMESH_PROJECT_DIR": str(project)}
        done = subprocess.run(
            [sys.executable, "-c", GATE_UNDER_TZ, str(contract.path), RUN],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{zone}: {done.stderr[-2000:]}"
        seen[zone] = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["UTC"]["passed"] and seen["UTC"]["tz"] == "Datetime(time_unit='us', time_zone='UTC')"
    assert seen["UTC"]["at_tz"][-1] == "2024-03-31 01:30:00+00:00"  # 03:30 in Berlin (CEST) is 01:30 UTC
    assert all(result == seen["UTC"] for result in seen.values()), seen


@pytest.mark.parametrize(
    "convert",
    [lambda f: f.to_pandas(), lambda f: f.to_arrow().to_batches()[0], lambda f: f.to_arrow(), lambda f: f.lazy()],
    ids=["pandas", "record-batch", "arrow-table", "lazy-frame"],
)
def test_every_accepted_input_publishes_the_same_rows(project: Path, settings: Settings, convert):
    columns = [
        {"name": "id", "logicalType": "integer", "primaryKey": True},
        {"name": "amount", "logicalType": "number", "physicalType": "decimal(10,2)"},
        {"name": "day", "logicalType": "date"},
    ]
    contract = write_contract(project, contract_doc(columns=columns))
    from datetime import date
    from decimal import Decimal

    frame = pl.DataFrame(
        {"id": [1, 2], "amount": [Decimal("1.50"), Decimal("2.25")], "day": [date(2024, 1, 1), date(2024, 1, 2)]},
        schema={"id": pl.Int64, "amount": pl.Decimal(10, 2), "day": pl.Date},
    )
    result = publish(convert(frame), contract=contract, settings=settings, run_id=RUN)
    assert result.report.passed
    assert read("shop.events", settings=settings).sort("id").equals(frame)
    assert DeltaTable(settings.table_uri("shop.events")).version() == 0


def test_an_unsupported_input_is_refused_before_anything_is_written(project: Path, settings: Settings):
    contract = write_contract(project, contract_doc(columns=[{"name": "v", "logicalType": "integer"}]))
    with pytest.raises(TypeError, match="the producer returned list"):
        publish([1, 2], contract=contract, settings=settings, run_id=RUN)
    assert not Path(settings.table_uri("shop.events")).exists()


def test_a_value_measured_over_a_classified_column_is_not_shown(project: Path, settings: Settings):
    rule = {"name": "pay_cap", "type": "sql", "query": "select max(salary) from ${object}", "mustBeLessThan": 100}
    columns = [
        {"name": "id", "logicalType": "integer", "primaryKey": True},
        {"name": "salary", "logicalType": "integer", "classification": "confidential"},
    ]
    contract = write_contract(project, contract_doc(columns=columns, quality=[rule]))
    with pytest.raises(ContractViolation) as refused:
        publish(pl.DataFrame({"id": [1], "salary": [987654]}), contract=contract, settings=settings, run_id=RUN)
    assert "check 'pay_cap': the whole batch: measured <redacted>, must be < 100" in str(refused.value)
    events = json.dumps(Catalog(settings.catalog_url).events()[0])
    assert "987654" not in str(refused.value) and "987654" not in events


@pytest.mark.parametrize(
    ("frame", "shown"),
    [
        (pl.DataFrame({"id": [1], "amount": [[1.0]]}), "List(Float64)"),
        (pl.DataFrame({"id": [1], "amount": ["12.5"]}), "String"),
        (pl.DataFrame(), "id"),
    ],
    ids=["list-in-a-number-column", "text-in-a-number-column", "no-columns"],
)
def test_data_of_the_wrong_shape_is_a_refusal_not_a_platform_error(
    project: Path, settings: Settings, frame: pl.DataFrame, shown: str
):
    columns = [
        {"name": "id", "logicalType": "integer", "primaryKey": True},
        {"name": "amount", "logicalType": "number", "logicalTypeOptions": {"minimum": 0}},
    ]
    contract = write_contract(project, contract_doc(columns=columns))
    with pytest.raises(ContractViolation, match=r"check 'schema': the whole batch") as refused:
        publish(frame, contract=contract, settings=settings, run_id=RUN)
    assert shown in str(refused.value)
    assert not Path(settings.table_uri("shop.events")).exists()
    if frame.width:
        assert pl.read_delta(settings.quarantine_uri("shop.events")).height == frame.height
