"""Every ODCS quality rule either works (passes and fails when it should) or refuses to load.

The batch below has known measures, so each metric x operator x unit has one
threshold that must pass and one that must fail.
"""

from pathlib import Path

import polars as pl
import pytest
from lakemesh import ContractInvalid
from lakemesh.quality import validate

from ..conftest import contract_doc, write_contract

VALUES = ["a", "a", "b", "c", "n/a", None, None, "d", "e", "bad"]
BATCH = pl.DataFrame({"v": VALUES})
VALID = ["a", "b", "c", "d", "e", "n/a"]

# metric -> (rule fields, value in rows, value in percent or None)
METRICS = {
    "rowCount": ({"metric": "rowCount"}, 10, None),
    "nullValues": ({"metric": "nullValues"}, 2, 20),
    "missingValues": ({"metric": "missingValues", "arguments": {"missingValues": ["n/a"]}}, 3, 30),
    "invalidValues": ({"metric": "invalidValues", "arguments": {"validValues": VALID}}, 1, 10),
    "duplicateValues": ({"metric": "duplicateValues"}, 1, 10),
    "sql": ({"type": "sql", "query": "select count(*) from ${object} where ${property} = 'a'"}, 2, None),
}
OPERATORS = {  # operator -> (passing threshold, failing threshold) around the measured value x
    "mustBe": (lambda x: x, lambda x: x + 1),
    "mustNotBe": (lambda x: x + 1, lambda x: x),
    "mustBeGreaterThan": (lambda x: x - 1, lambda x: x),
    "mustBeGreaterOrEqualTo": (lambda x: x, lambda x: x + 1),
    "mustBeLessThan": (lambda x: x + 1, lambda x: x),
    "mustBeLessOrEqualTo": (lambda x: x, lambda x: x - 1),
    "mustBeBetween": (lambda x: [x - 1, x + 1], lambda x: [x + 1, x + 2]),
    "mustNotBeBetween": (lambda x: [x + 1, x + 2], lambda x: [x - 1, x + 1]),
}
CASES = [
    pytest.param(metric, unit, operator, passing, id=f"{metric}-{unit}-{operator}-{'pass' if passing else 'fail'}")
    for metric, (_, _, percent) in METRICS.items()
    for unit in ("rows", "percent")
    if unit == "rows" or percent is not None
    for operator in OPERATORS
    for passing in (True, False)
]


def _rule_contract(project: Path, rule: dict, *, on_column: bool = True, column_type: str = "string"):
    column = {"name": "v", "logicalType": column_type}
    if on_column:
        column["quality"] = [rule]
    return write_contract(project, contract_doc(columns=[column], quality=None if on_column else [rule]))


@pytest.mark.parametrize(("metric", "unit", "operator", "passing"), CASES)
def test_every_metric_operator_and_unit(tmp_path: Path, metric: str, unit: str, operator: str, passing: bool):
    fields, rows_value, percent_value = METRICS[metric]
    measured = rows_value if unit == "rows" else percent_value
    threshold = OPERATORS[operator][0 if passing else 1](measured)
    rule = {"name": "rule_under_test", **fields, operator: threshold, "unit": unit}
    contract = _rule_contract(tmp_path, rule, on_column=metric != "rowCount")
    report = validate(BATCH, contract)
    failure = report.failed("rule_under_test")
    assert (failure is None) is passing, failure and failure.describe()
    if not passing:
        assert failure.rows == -1 and "must be" in failure.reason


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"metric": "nullValues", "unit": "percent", "mustBe": 0}, "a percentage of an empty batch is undefined"),
        ({"type": "sql", "query": "select max(length(v)) from ${object}", "mustBeLessThan": 5}, "returned NULL"),
    ],
    ids=["percent-on-empty-batch", "sql-null"],
)
def test_undefined_measures_fail_instead_of_passing(tmp_path: Path, rule: dict, reason: str):
    contract = _rule_contract(tmp_path, {"name": "r", **rule})
    failure = validate(pl.DataFrame({"v": []}, schema={"v": pl.String}), contract).failed("r")
    assert failure is not None and reason in failure.reason


BAD_RULES = {
    "invalidValues-without-arguments": ({"metric": "invalidValues", "mustBe": 0}, True, "needs non-empty arguments"),
    "invalidValues-empty-list": (
        {"metric": "invalidValues", "arguments": {"validValues": []}, "mustBe": 0},
        True,
        "needs non-empty arguments",
    ),
    "column-metric-without-column": ({"metric": "nullValues", "mustBe": 0}, False, "is a column metric"),
    "between-one-bound": ({"metric": "rowCount", "mustBeBetween": [1]}, False, "not valid ODCS"),
    "between-reversed": ({"metric": "rowCount", "mustBeBetween": [5, 1]}, False, "needs low <= high"),
    "bound-not-a-number": ({"metric": "rowCount", "mustBeGreaterThan": "ten"}, False, "not valid ODCS"),
    "bound-infinite": ({"metric": "rowCount", "mustBeGreaterThan": float("inf")}, False, "needs a finite number"),
    "percent-row-count": ({"metric": "rowCount", "unit": "percent", "mustBe": 1}, False, "rowCount counts rows"),
    "unknown-argument": (
        {"metric": "missingValues", "arguments": {"missing": ["x"]}, "mustBe": 0},
        True,
        "unknown arguments",
    ),
    "two-statements": ({"type": "sql", "query": "select 1; select 2", "mustBe": 1}, False, "exactly one SELECT"),
    "not-a-select": ({"type": "sql", "query": "delete from ${object}", "mustBe": 0}, False, "exactly one SELECT"),
    "reads-a-file": (
        {"type": "sql", "query": "select count(*) from read_parquet('/etc/passwd')", "mustBe": 0},
        False,
        "may read the batch (events) only",
    ),
    "reads-another-table": (
        {"type": "sql", "query": "select count(*) from sales.orders", "mustBe": 0},
        False,
        "may read the batch (events) only",
    ),
    "calls-a-file-function": (
        {"type": "sql", "query": "select count(*) from ${object} where v in (select * from glob('/*'))", "mustBe": 0},
        False,
        "may",
    ),
    "not-sql": ({"type": "sql", "query": "select count(* from", "mustBe": 0}, False, "not valid SQL"),
    "unknown-sql-column": (
        {"type": "sql", "query": "select count(*) from ${object} where nope > 1", "mustBe": 0},
        False,
        "does not run on the contract's columns",
    ),
    "unknown-sql-function": (
        {"type": "sql", "query": "select count(*) from ${object} where getenv('HOME') = v", "mustBe": 0},
        False,
        "does not run on the contract's columns",
    ),
    "bad-regex-argument": (
        {"metric": "invalidValues", "arguments": {"pattern": "(("}, "mustBe": 0},
        True,
        "not a valid regular expression",
    ),
    "values-of-another-type": (
        {"metric": "invalidValues", "arguments": {"validValues": [1, 2]}, "mustBe": 0},
        True,
        "must hold string values like the column",
    ),
    "name-taken-by-a-generated-check": ({"metric": "rowCount", "mustBe": 1}, False, "the name is taken"),
}


@pytest.mark.parametrize(("rule", "on_column", "reason"), BAD_RULES.values(), ids=BAD_RULES.keys())
def test_a_rule_that_cannot_be_evaluated_refuses_to_load(tmp_path: Path, rule: dict, on_column: bool, reason: str):
    name = "schema" if reason == "the name is taken" else "bad_rule"
    with pytest.raises(ContractInvalid) as refused:
        _rule_contract(tmp_path, {"name": name, **rule}, on_column=on_column)
    message = str(refused.value)
    assert "contracts/shop/events.yaml" in message
    where = "schema[0].properties[0].quality[0]" if on_column else "schema[0].quality[0]"
    assert f"field '{where}'" in message and reason in message
    if reason != "not valid ODCS":  # refused by the standard's own schema before the rule is named
        assert f"rule '{name}'" in message


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        ({"logicalType": "integer", "logicalTypeOptions": {"minimum": "zero"}}, "'zero' is not of type 'number'"),
        ({"logicalType": "date", "logicalTypeOptions": {"minimum": "yesterday"}}, "must be an ISO date"),
        ({"logicalType": "timestamp", "logicalTypeOptions": {"maximum": "noon"}}, "must be an ISO timestamp"),
        ({"logicalType": "string", "logicalTypeOptions": {"minimum": 1}}, "'minimum' was unexpected"),
        ({"logicalType": "integer", "logicalTypeOptions": {"minimum": 5, "maximum": 1}}, "is above the upper bound"),
        ({"logicalType": "string", "logicalTypeOptions": {"maxLength": -1}}, "-1 is less than the minimum of 0"),
        ({"logicalType": "string", "logicalTypeOptions": {"pattern": "(unclosed"}}, "not a valid regular expression"),
    ],
    ids=["number", "date", "timestamp", "string-range", "reversed", "length", "regex"],
)
def test_a_bound_of_the_wrong_type_refuses_to_load(tmp_path: Path, column: dict, reason: str):
    with pytest.raises(ContractInvalid, match=r"events.yaml: field 'schema\[0\].properties\[0\]") as refused:
        write_contract(tmp_path, contract_doc(columns=[{"name": "v", **column}]))
    assert reason in str(refused.value)


def test_timestamp_bounds_compare_as_instants_not_strings(tmp_path: Path):
    """A bound written with an offset is one instant: 23:30 UTC on Dec 31 is after 00:00+01:00 on Jan 1."""
    bound = {"minimum": "2024-01-01T00:00:00+01:00"}
    contract = write_contract(
        tmp_path,
        contract_doc(columns=[{"name": "at", "logicalType": "timestamp", "logicalTypeOptions": bound}]),
    )
    from datetime import datetime

    inside = pl.DataFrame({"at": [datetime(2023, 12, 31, 23, 30)]}, schema={"at": pl.Datetime("us")})
    outside = pl.DataFrame({"at": [datetime(2023, 12, 31, 22, 30)]}, schema={"at": pl.Datetime("us")})
    assert validate(inside, contract).passed
    assert validate(outside, contract).failed("at__range").rows == 1
    assert contract.plan.check("at__range").description == "at >= 2023-12-31 23:00:00"


@pytest.mark.parametrize("name", ["Order Id", "order-id", "1st", 'quote"d'])
def test_a_column_name_that_needs_quoting_refuses_to_load(tmp_path: Path, name: str):
    with pytest.raises(ContractInvalid, match=r"field 'schema\[0\].properties\[0\].name': a column name is letters"):
        write_contract(tmp_path, contract_doc(columns=[{"name": name, "logicalType": "integer", "primaryKey": True}]))


def test_a_rule_compiles_to_a_typed_bound_and_an_explicit_dialect(tmp_path: Path):
    rule = {"name": "few_a", "type": "sql", "query": "select count(*) from ${object} where ${property} = 'a'"}
    contract = _rule_contract(tmp_path, {**rule, "mustBeBetween": [0, 1]})
    sql = contract.plan.check("few_a").bound
    assert sql.dialect == "duckdb" and sql.in_dialect("duckdb") == sql.query
    assert sql.in_dialect("spark").startswith("SELECT COUNT(*) FROM events")
    assert sql.bound.describe() == "between 0 and 1"
    assert sql.bound.passes(1) and not sql.bound.passes(2)
