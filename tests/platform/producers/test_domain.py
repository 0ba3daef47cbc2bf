"""A domain's producers checked against its contracts without Dagster: one producer per contract, of its kind."""

import re
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from lakemesh import AccessRefused, DefinitionsInvalid, Settings, data_product, spark_product
from lakemesh.producers import domain_contracts, load_domain

from ..conftest import contract_doc, write_contract

COLUMNS = [{"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True}]


@pytest.fixture
def here(project: Path) -> Settings:
    """The settings of the test's own project, whose contracts these are."""
    return Settings.from_env()


@data_product(name="events")
def events() -> pl.DataFrame:
    return pl.DataFrame({"id": [1]})


@spark_product(name="events")
def spark_events():
    raise AssertionError("never called: the domain is only loaded")


def test_each_contract_gets_its_producer_by_product(project: Path, here: Settings):
    write_contract(project, contract_doc("shop.events", columns=COLUMNS))

    domain = load_domain(
        "shop", own=domain_contracts("shop", settings=here), producers=[events.in_domain("shop")], settings=here
    )

    assert list(domain.producers) == ["shop.events"] and domain.producers["shop.events"].fn is events.fn
    assert domain.own["shop.events"].id == "urn:test:shop:events"


def test_two_producers_of_one_product_are_refused_naming_both(project: Path, here: Settings):
    write_contract(project, contract_doc("shop.events", columns=COLUMNS))
    both = [events.in_domain("shop"), spark_events.in_domain("shop")]

    with pytest.raises(DefinitionsInvalid, match=r"says producer 'python' but it is produced by python and spark"):
        load_domain("shop", own=domain_contracts("shop", settings=here), producers=both, settings=here)


def test_a_producer_without_a_contract_is_refused(project: Path, here: Settings):
    write_contract(project, contract_doc("shop.events", columns=COLUMNS))
    other = replace(events, name="other").in_domain("shop")

    with pytest.raises(DefinitionsInvalid, match=re.escape("shop.other has a producer but no contract")):
        own = domain_contracts("shop", settings=here)
        load_domain("shop", own=own, producers=[events.in_domain("shop"), other], settings=here)


def test_reading_another_domains_internal_product_is_refused_naming_both(project: Path, here: Settings):
    write_contract(project, contract_doc("shop.events", columns=COLUMNS, access="internal"))
    write_contract(project, contract_doc("reports.copy", columns=COLUMNS))

    @data_product(name="copy", inputs=["shop.events"])
    def copy(events: pl.LazyFrame) -> pl.LazyFrame:
        return events

    with pytest.raises(AccessRefused, match=r"reports.copy reads shop.events, which is internal to the shop domain"):
        load_domain(
            "reports",
            own=domain_contracts("reports", settings=here),
            producers=[copy.in_domain("reports")],
            settings=here,
        )
