"""The SQL read gate: what a query reads, with SQL's own scoping."""

import pytest
from lakemesh.sql import query_reads


@pytest.mark.parametrize(
    ("sql", "relations", "calls"),
    [
        ("with a as (select 1 as x) select * from a", [], []),
        ("with t as (select * from t) select * from t", ["t"], []),  # a CTE's own body reads the real table
        (
            'with "/x/secret.csv" as (select * from "/x/secret.csv") select * from "/x/secret.csv"',
            ['"/x/secret.csv"'],
            [],
        ),
        ("select * from range(3) as r, unnest([1, 2]) as u, generate_series(1, 2) as g", [], []),
        (
            "select * from db.main.orders join (select * from read_csv('x.csv')) on true",
            ["db.main.orders"],
            ["READ_CSV('x.csv')"],
        ),
        ("select read_text('/etc/passwd') as t", [], ["READ_TEXT('/etc/passwd')"]),
        ("select * from 'data.parquet'", ['"data.parquet"'], []),
    ],
    ids=[
        "cte",
        "cte-self",
        "cte-shadowing-a-file",
        "generators",
        "table-function",
        "scalar-file-read",
        "file-as-table",
    ],
)
def test_what_a_query_reads(sql: str, relations: list[str], calls: list[str]):
    reads = query_reads(sql)
    assert [node.sql(dialect="duckdb") for node in reads.relations] == relations
    assert list(reads.outside_calls) == calls


@pytest.mark.parametrize("sql", ["select 1; select 2", "delete from t", "create table x as select 1", "selec 1"])
def test_anything_but_one_select_is_refused(sql: str):
    with pytest.raises(ValueError, match=r"exactly one SELECT|not valid SQL"):
        query_reads(sql)
