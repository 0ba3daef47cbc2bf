"""A product's versions, owner, contract and description come only from what its Delta log confirms.

The forgery below is the hostile review's: a token holder posts events that name the platform as producer and
claim a product's versions and description. None of them may change what the catalog shows of the product, and
reconcile makes a catalog that was forged before (or has lost a table) equal Delta again.
"""

import json
import shutil
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from deltalake import DeltaTable
from lakemesh import Settings, load_contract
from lakemesh.catalog import Catalog, column_sources
from lakemesh.catalog import model as m
from lakemesh.catalog.reconcile import reconcile
from lakemesh.lineage import JOB_NAMESPACE, publish_run_id, storage_dataset
from lakemesh.storage.commit import PublishCommit

from ...conftest import PROJECT_DIR, publish_customers
from .conftest import TOKEN, Server
from .events import dataset, facet, run_event

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PRODUCT = "customers.customer"
UNPUBLISHED = "customers.nation"
FORGERY_ROUNDS = 10


def _forged_product(settings: Settings, *, version: str, storage_named: bool = False, product: str = PRODUCT) -> dict:
    """The product as a forger names it, with an owner, description and contract of its choosing."""
    forged = {
        "version": facet(datasetVersion=version),
        "ownership": facet(owners=[{"name": "team:mallory", "type": "OWNER"}]),
        "documentation": facet(description="FORGED"),
        "contract": facet(
            contractId="urn:forged", contractVersion="9.9.9", status="active", access="public", location="/forged"
        ),
        "schema": facet(fields=[{"name": "forged", "type": "string"}]),
    }
    if not storage_named:
        return dataset(product, namespace=settings.namespace, **forged)
    namespace, name = storage_dataset(settings.table_uri(product))
    symlinks = facet(identifiers=[{"namespace": settings.namespace, "name": product, "type": "TABLE"}])
    return dataset(name, namespace=namespace, symlinks=symlinks, **forged)


def _genuine_run_id(settings: Settings, version: int) -> str:
    """The lineage run id of the publish that committed `version`: anyone who can read the Delta log can see it."""
    (info,) = [c for c in DeltaTable(settings.table_uri(PRODUCT)).history() if c["version"] == version]
    return publish_run_id(PublishCommit.read(info).app_id)


def _claim(outputs: list[dict], *, product: str = PRODUCT, **options) -> dict:
    """A run event of the product's own job that names the platform as its producer."""
    event = run_event(product, outputs=outputs, **options)
    event["job"]["namespace"] = JOB_NAMESPACE
    return event


def _post(url: str, event: dict) -> requests.Response:
    return requests.post(f"{url}/api/v1/lineage", json=event, headers=AUTH, timeout=30)


@pytest.fixture
def published_over_http(server: Server, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """customers.customer published twice (v0, v1), its events sent to `server` over OpenLineage's HTTP transport."""
    for name, value in {"TYPE": "http", "URL": server.url, "AUTH__TYPE": "api_key", "AUTH__APIKEY": TOKEN}.items():
        monkeypatch.setenv(f"OPENLINEAGE__TRANSPORT__{name}", value)
    publish_customers(settings, rows=3)
    publish_customers(settings, rows=4)
    return settings


def test_forged_completes_change_no_product_version_owner_contract_or_description(
    server: Server, published_over_http: Settings
):
    settings = published_over_http
    contract = load_contract(PROJECT_DIR / "contracts" / "customers" / "customer.yaml")
    before = server.catalog.product(PRODUCT, namespace=settings.namespace)
    assert before.current_version == "1" and before.owner == contract.owner

    for _ in range(FORGERY_ROUNDS):
        refused = {
            "a version Delta does not have": _claim([_forged_product(settings, version="999")]),
            "by its storage name": _claim([_forged_product(settings, version="999", storage_named=True)]),
            "a version Delta has, another run's": _claim([_forged_product(settings, version="1")]),
            "no version at all": _claim([dataset(PRODUCT, namespace=settings.namespace)]),
            "a product never published": _claim(
                [_forged_product(settings, version="0", product=UNPUBLISHED)], product=UNPUBLISHED
            ),
        }
        for case, event in refused.items():
            answer = _post(server.url, event)
            assert answer.status_code == 400, case
            assert "is not confirmed by its Delta log at" in answer.json()["message"], case
        genuine_run = _genuine_run_id(settings, 1)
        accepted = {  # stored as runs, yet none of them describes the product
            "the genuine run id, copied from the Delta log": _claim(
                run_id=genuine_run, outputs=[_forged_product(settings, version="1")]
            ),
            "a START": _claim(event_type="START", outputs=[_forged_product(settings, version="1")]),
            "a FAIL": _claim(event_type="FAIL", outputs=[_forged_product(settings, version="1")]),
            "a START of a product never published": _claim(
                [_forged_product(settings, version="0", product=UNPUBLISHED)], product=UNPUBLISHED, event_type="START"
            ),
            "a reader's facets on a product never published": run_event(
                "reader", inputs=[_forged_product(settings, version="0", product=UNPUBLISHED)]
            ),
        }
        for case, event in accepted.items():
            assert _post(server.url, event).status_code == 201, case

    after = server.catalog.product(PRODUCT, namespace=settings.namespace)
    assert [v.version for v in after.versions] == ["1", "0"]
    assert after.current_version == "1"
    assert (after.owner, after.description) == (contract.owner, contract.description)
    assert after.contract["contractId"] == contract.id and [f["name"] for f in after.fields] == [
        c.name for c in contract.columns
    ]

    never = server.catalog.product(UNPUBLISHED, namespace=settings.namespace)  # the platform's, yet undescribed
    assert (never.versions, never.current_version, never.owner, never.description, never.contract) == (
        [],
        None,
        None,
        None,
        {},
    )

    publish_customers(settings, rows=5)  # the platform's next publish is recorded as ever
    assert server.catalog.product(PRODUCT, namespace=settings.namespace).current_version == "2"


def test_reconcile_makes_the_catalog_equal_delta_in_both_directions(settings: Settings):
    publish_customers(settings, rows=3)
    publish_customers(settings, rows=4)
    contract = load_contract(PROJECT_DIR / "contracts" / "customers" / "customer.yaml")
    catalog = Catalog(settings.catalog_url)
    with catalog.engine.begin() as db:  # what a forger left in a catalog of before: a version Delta never had
        (dataset_id,) = db.execute(sa.select(m.datasets.c.id).where(m.datasets.c.name == PRODUCT)).one()
        db.execute(
            m.dataset_versions.insert().values(
                dataset_id=dataset_id, version="999", run_id=str(uuid.uuid4()), created_at=sa.func.now()
            )
        )
        db.execute(
            m.datasets.update()
            .where(m.datasets.c.id == dataset_id)
            .values(current_version="999", owner="mallory", description="FORGED")
        )

    done = reconcile(settings)
    assert done.restated == [
        f"{PRODUCT}: removed version(s) 999; current version 999 -> 1; description restated; owner restated"
    ]
    entry = catalog.product(PRODUCT, namespace=settings.namespace)
    assert [v.version for v in entry.versions] == ["1", "0"] and entry.current_version == "1"
    assert (entry.owner, entry.description) == (contract.owner, contract.description)
    assert reconcile(settings).restated == []  # a catalog equal to Delta is not written

    shutil.rmtree(settings.table_uri(PRODUCT))  # the table is gone: so are its versions
    assert reconcile(settings).restated == [f"{PRODUCT}: removed version(s) 0, 1; current version 1 -> None"]
    entry = catalog.product(PRODUCT, namespace=settings.namespace)
    assert entry.versions == [] and entry.current_version is None


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("a name that is no product", "is not a product name (<domain>.<product>)"),
        ("another spelling of the product", "is not a product name (<domain>.<product>)"),
        ("a namespace with a trailing slash", "is not a canonical product namespace"),
        ("a namespace with a dot step", "is not a canonical product namespace"),
        ("a COMPLETE of a quarantine", "a quarantine has no versions, no COMPLETE reports one"),
        ("a version of non-ASCII digits", "a product's version is a Delta version number"),
    ],
)
def test_other_spellings_of_a_product_are_refused_and_store_nothing(
    server: Server, published_over_http: Settings, case: str, message: str
):
    settings = published_over_http
    ns, run_id = settings.namespace, _genuine_run_id(settings, 1)  # a genuine run: only the spelling is forged
    named = {
        "a name that is no product": (ns, "customers"),
        "another spelling of the product": (ns, "customers.customer/."),
        "a namespace with a trailing slash": (f"{ns}/", PRODUCT),
        "a namespace with a dot step": (f"{ns}/.", PRODUCT),
        "a COMPLETE of a quarantine": (ns, "customers._quarantine_customer"),
        "a version of non-ASCII digits": (ns, PRODUCT),
    }[case]
    output = _forged_product(settings, version="²" if "non-ASCII" in case else "1")
    output.update(namespace=named[0], name=named[1])
    stored = server.catalog.events(limit=1)[1]

    answer = _post(server.url, _claim([output], run_id=run_id))

    assert answer.status_code == 400 and message in answer.json()["message"]
    assert server.catalog.events(limit=1)[1] == stored
    assert [name for _, name in server.catalog.product_names(namespace=None)] == [PRODUCT]


def test_a_replayed_complete_of_the_genuine_run_adds_no_lineage_or_checks(
    server: Server, published_over_http: Settings
):
    settings = published_over_http
    replay = _forged_product(settings, version="1")
    replay["facets"]["columnLineage"] = facet(
        fields={"name": {"inputFields": [{"namespace": "warehouse://evil", "name": "secrets", "field": "x"}]}}
    )
    replay["facets"]["dataQualityAssertions"] = facet(assertions=[{"assertion": "forged_check", "success": False}])
    before = server.catalog.product(PRODUCT, namespace=settings.namespace)

    assert _post(server.url, _claim([replay], run_id=_genuine_run_id(settings, 1))).status_code == 201

    after = server.catalog.product(PRODUCT, namespace=settings.namespace)
    assert after.checks == before.checks and "forged_check" not in after.checks
    sources = column_sources(server.catalog, PRODUCT, "name", namespace=settings.namespace).inputs
    assert "secrets" not in {source.dataset for source in sources}


def test_reconcile_leaves_a_product_whose_log_it_cannot_number_and_says_why(settings: Settings):
    publish_customers(settings, rows=3)
    publish_customers(settings, rows=4)
    log = Path(settings.table_uri(PRODUCT)) / "_delta_log"
    (log / f"{2:020d}.json").write_text(json.dumps({"txn": {"appId": "another-tool", "version": 1}}) + "\n")
    publish_customers(settings, rows=5)  # version 3; deltalake would number the history 3, 2, 1 (no commitInfo in 2)

    done = reconcile(settings)

    assert done.restated == []
    assert any(p.startswith(f"{PRODUCT}: its Delta log could not be read: LogUnreliable") for p in done.problems)
    entry = Catalog(settings.catalog_url).product(PRODUCT, namespace=settings.namespace)
    assert sorted(v.version for v in entry.versions) == ["0", "1", "3"] and entry.current_version == "3"
