"""Time partitions declared in a contract: one required date column, its grain and first day; anything else is
refused naming the field, and changing them on a published product is a breaking change."""

import copy
import uuid
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml
from deltalake import DeltaTable
from lakemesh import BreakingChange, ContractInvalid, Settings, load_contract, publish
from lakemesh.contracts.partitioning import Partitioning

from ..conftest import contract_doc, write_contract

ORDER_DATE = {
    "name": "order_date",
    "logicalType": "date",
    "required": True,
    "partitioned": True,
    "partitionKeyPosition": 1,
    "customProperties": [
        {"property": "partitionGrain", "value": "day"},
        {"property": "partitionStart", "value": "1992-01-01"},
    ],
}
COLUMNS = [{"name": "id", "logicalType": "integer", "primaryKey": True, "required": True}, ORDER_DATE]


def _columns(**changes) -> list[dict]:
    columns = copy.deepcopy(COLUMNS)
    columns[1].update(changes)
    return columns


def grained(grain: str, start: str = "1992-01-01", **more) -> list[dict]:
    custom = [{"property": "partitionGrain", "value": grain}, {"property": "partitionStart", "value": start}]
    custom += [{"property": f"partition{name.title()}", "value": value} for name, value in more.items()]
    return _columns(customProperties=custom)


def test_a_partitioned_contract_names_its_column_grain_and_first_partition(project: Path):
    contract = write_contract(project, contract_doc(columns=_columns()))
    assert contract.partitioning == Partitioning(column="order_date", grain="day", start=date(1992, 1, 1))
    monthly = write_contract(project, contract_doc(columns=grained("month", "1992-01-15")))
    assert monthly.partitioning.start == date(1992, 1, 1)  # the first day of the month holding the start
    assert monthly.partitioning.window("1995-12") == (date(1995, 12, 1), date(1996, 1, 1))
    assert write_contract(project, contract_doc(columns=COLUMNS[:1])).partitioning is None
    assert monthly.partitioning.lookback == 0
    lookback = write_contract(project, contract_doc(columns=grained("month", lookback=4))).partitioning
    assert lookback == Partitioning(column="order_date", grain="month", start=date(1992, 1, 1), lookback=4)


@pytest.mark.parametrize(
    ("columns", "field", "reason"),
    [
        (_columns(logicalType="string"), "schema[0].properties[1].partitioned",
         "a partition column is a required date; 'order_date' is a required string"),
        (_columns(required=False), "schema[0].properties[1].partitioned",
         "a partition column is a required date; 'order_date' is an optional date"),
        (grained("week"), "schema[0].properties[1].customProperties.partitionGrain",
         "must be one of day, month, year, got 'week'"),
        (grained("day", "sometime"), "schema[0].properties[1].customProperties.partitionStart",
         "the first partition's day, such as 1992-01-01, got 'sometime'"),
        (grained("year", "0999-01-01"), "schema[0].properties[1].customProperties.partitionStart",
         "the first partition's day, such as 1992-01-01, got '0999-01-01'"),
        (grained("month", lookback=-1), "schema[0].properties[1].customProperties.partitionLookback",
         "the partitions before its own a partition reads of its inputs: a whole number from 0, got -1"),
        (grained("month", lookback="4 months"), "schema[0].properties[1].customProperties.partitionLookback",
         "the partitions before its own a partition reads of its inputs: a whole number from 0, got '4 months'"),
        (_columns(partitionKeyPosition=2), "schema[0].properties[1].partitionKeyPosition",
         "must be 1 (the one partition column), got 2"),
        ([{**COLUMNS[0], "partitionKeyPosition": 1}, ORDER_DATE], "schema[0].properties[0].partitionKeyPosition",
         "is only for a column with partitioned: true"),
        ([ORDER_DATE, {**ORDER_DATE, "name": "ship_date"}], "schema[0].properties[1].partitioned",
         "one column partitions a product, got ['order_date', 'ship_date']"),
    ],
)  # fmt: skip
def test_a_partition_declaration_that_cannot_be_used_is_refused_naming_the_field(
    project: Path, columns: list[dict], field: str, reason: str
):
    with pytest.raises(ContractInvalid) as refused:
        write_contract(project, contract_doc(columns=columns))
    assert refused.value.field_path == field and str(refused.value).endswith(f"field '{field}': {reason}")


def test_a_partition_key_of_another_grain_is_refused():
    daily = Partitioning(column="d", grain="day", start=date(1992, 1, 1))
    assert daily.window("1995-06-30") == (date(1995, 6, 30), date(1995, 7, 1))
    for key in ("1995-06", "1995-6-30", "19950630", "1995-06-31"):
        with pytest.raises(ValueError, match=f"'{key}' is not a day partition key such as '1992-01-01'"):
            daily.window(key)


UNPARTITIONED = [COLUMNS[0], {"name": "order_date", "logicalType": "date", "required": True}]


@pytest.mark.parametrize("columns", [grained("month"), UNPARTITIONED])
def test_changing_the_partitions_of_a_published_product_needs_a_new_major_version(
    project: Path, settings: Settings, columns: list[dict]
):
    rows = pl.DataFrame({"id": [1, 2], "order_date": [date(1995, 6, 30), date(1995, 7, 1)]})
    published = write_contract(project, contract_doc(columns=_columns()))
    publish(rows, contract=published, settings=settings, run_id=str(uuid.uuid4()))

    changed = write_contract(project, contract_doc(columns=columns, version="1.1.0"))
    with pytest.raises(BreakingChange, match=r"partitioning changed from day partitions of order_date to "):
        publish(rows, contract=changed, settings=settings, run_id=str(uuid.uuid4()))
    assert DeltaTable(settings.table_uri("shop.events")).version() == 0  # nothing was written

    next_major = write_contract(project, contract_doc(columns=columns, version="2.0.0"))
    publish(rows, contract=next_major, settings=settings, run_id=str(uuid.uuid4()))
    assert DeltaTable(settings.table_uri("shop.events")).version() == 1


def test_an_unquoted_yaml_date_is_read_as_the_text_odcs_expects(project: Path):
    path = project / "contracts" / "shop" / "events.yaml"
    path.parent.mkdir(parents=True)
    text = yaml.safe_dump(contract_doc(columns=_columns()), sort_keys=False)
    path.write_text(text.replace("value: '1992-01-01'", "value: 1992-01-01"))  # YAML would make it a date
    assert "value: 1992-01-01\n" in path.read_text()
    assert load_contract(path).partitioning.start == date(1992, 1, 1)
