"""The catalog over HTTP with real clients: openlineage-python's HTTP transport in, marquez-python out."""

import gzip
import hashlib
import json
import os
import re
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lakemesh import load_contract, publish
from lakemesh.catalog.access import load_write_scopes
from lakemesh.catalog.store import Catalog
from lakemesh.lineage import InputRef, declared_column_lineage
from lakemesh.storage.landing import landing_path, read_landing
from marquez_client import MarquezClient
from openlineage.client.transport.http import HttpConfig, HttpTransport

from domains.customers.products import customer

from ...conftest import PROJECT_DIR
from .conftest import TOKEN, Server, cli_serving, serving
from .events import NS, PRODUCER, chain, dataset, facet, run_event

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _transport(server: Server, **config) -> HttpTransport:
    return HttpTransport(
        HttpConfig.from_dict(
            {"type": "http", "url": server.url, "auth": {"type": "api_key", "apiKey": TOKEN}, **config}
        )
    )


def _stored(catalog: Catalog) -> tuple[int, int]:
    """How many events and datasets the catalog holds."""
    events = catalog.events(limit=1)[1]
    datasets = sum(catalog.datasets(ns["name"])[1] for ns in catalog.namespaces()[0])
    return events, datasets


def test_platform_publish_over_the_openlineage_http_transport(server: Server, settings, monkeypatch):
    for name, value in {
        "TYPE": "http",
        "URL": server.url,
        "AUTH__TYPE": "api_key",
        "AUTH__APIKEY": TOKEN,
    }.items():
        monkeypatch.setenv(f"OPENLINEAGE__TRANSPORT__{name}", value)
    contract = load_contract(PROJECT_DIR / "contracts" / "customers" / "customer.yaml")
    landing = InputRef(namespace="file", name=str(landing_path(settings.landing, "customer")))
    frame = customer.fn(read_landing(settings.landing, "customer").lazy()).collect()
    run_id = str(uuid.uuid4())
    publish(
        frame,
        contract=contract,
        settings=settings,
        run_id=run_id,
        extra_inputs=[landing],
        column_lineage=declared_column_lineage(customer.columns, inputs={"customer": landing}),
    )

    marquez = MarquezClient(server.url)
    assert settings.namespace in {ns["name"] for ns in marquez.list_namespaces()["namespaces"]}
    listed = marquez.list_datasets(settings.namespace)["datasets"]
    assert [d["name"] for d in listed] == ["customers.customer"]
    product = marquez.get_dataset(settings.namespace, "customers.customer")
    assert [f["name"] for f in product["fields"]] == [c.name for c in contract.columns]
    assert product["currentVersion"] == "0" and product["facets"]["contract"]["contractVersion"] == "1.0.0"
    (version,) = marquez.list_dataset_versions(settings.namespace, "customers.customer")["versions"]
    assert version["version"] == "0" and version["createdByRun"]["state"] == "COMPLETED"
    (job,) = marquez.list_jobs("lakemesh")["jobs"]
    assert job["name"] == "customers.customer" and job["inputs"] == [{"namespace": "file", "name": landing.name}]
    assert marquez.get_job("lakemesh", "customers.customer")["outputs"] == [
        {"namespace": settings.namespace, "name": "customers.customer"}
    ]
    (run,) = marquez.list_job_runs("lakemesh", "customers.customer")["runs"]
    assert run["state"] == "COMPLETED" and run["facets"]["parent"]["run"]["runId"] == run_id
    fields = marquez.get_column_lineage_by_dataset(settings.namespace, "customers.customer", depth=5)["graph"]
    phone = next(n for n in fields if n["id"].endswith(":customers.customer:phone"))
    assert [(f["dataset"], f["field"]) for f in phone["data"]["inputFields"]] == [(landing.name, "c_phone")]
    events = marquez.list_events()["events"]
    assert [e["eventType"] for e in events] == ["COMPLETE", "START"]
    assert [e["eventType"] for e in marquez.list_events(namespace="lakemesh")["events"]] == ["COMPLETE", "START"]


def test_marquez_lineage_and_search_endpoints(server: Server):
    transport = _transport(server, compression="gzip")
    for event in chain(3):
        transport.emit(event)
    graph = requests.get(f"{server.url}/api/v1/lineage", params={"nodeId": f"dataset:{NS}:ds1", "depth": 0}).json()
    assert {n["id"] for n in graph["graph"]} == {
        f"dataset:{NS}:ds0",
        f"dataset:{NS}:ds1",
        f"dataset:{NS}:ds2",
        "job:etl:job1",
        "job:etl:job2",
    }
    found = requests.get(f"{server.url}/api/v1/search", params={"q": "ds", "filter": "dataset"}).json()
    assert found["totalCount"] == 4 and [r["nodeId"] for r in found["results"]][:2] == [
        f"dataset:{NS}:ds0",
        f"dataset:{NS}:ds1",
    ]
    wildcard = requests.get(f"{server.url}/api/v1/search", params={"q": "job%2"}).json()
    assert [r["name"] for r in wildcard["results"]] == ["job2"]
    impact = requests.get(f"{server.url}/api/v1/products/ds1/impact", params={"column": "c"}).json()["impact"]
    assert [(i["name"], i["hops"], i["columns"]) for i in impact] == [("ds2", 1, ["c"]), ("ds3", 2, ["c"])]


BAD_POSTS = {
    "malformed JSON": (b'{"eventType": "START", ', {}, 400, "not valid JSON"),
    "JSON that is not an event": (b'{"hello": "world"}', {}, 400, "'eventTime' is a required property"),
    "a JSON array": (b"[1, 2]", {}, 400, "is a JSON object, got a JSON list"),
    "missing run id": ("no_run_id", {}, 400, "run: 'runId' is a required property"),
    "missing event time": ("no_event_time", {}, 400, "'eventTime' is a required property"),
    "run id not a UUID": ("bad_run_id", {}, 400, "run.runId: 'run-1' is not a valid uuid"),
    "facet without _producer": ("bad_facet", {}, 400, "'_producer' is a required property"),
    "a name longer than the catalog stores": ("long_name", {}, 400, "outputs[0].name: 2,000 characters, longer"),
    "a version longer than the catalog stores": ("long_version", {}, 400, "datasetVersion: 300 characters, longer"),
    "an event time UTC cannot hold": ("year_one", {}, 400, "eventTime: '0001-01-01T00:00:00+01:00' is not a valid"),
    "a row count past 2**63": ("huge_count", {}, 400, "rowCount: 9223372036854775808 is not a count"),
    "a NUL character in a name": ("nul_name", {}, 400, "outputs[0].name: holds a NUL character"),
    "oversized body": ("oversized", {}, 413, "at most"),
    "oversized after gzip": ("zip_bomb", {"Content-Encoding": "gzip"}, 413, "decompressed body exceeds"),
    "100,000-deep JSON": (b"[" * 100_000 + b"]" * 100_000, {}, 400, "not valid JSON: depth limit exceeded"),
    "a facet nested too deep": ("deep_facet", {}, 400, "nests deeper than 64 levels"),
    "no token": ("valid", {"Authorization": None}, 401, "Bearer <token>"),
    "wrong token": ("valid", {"Authorization": "Bearer wrong"}, 401, "Bearer <token>"),
}


def _contract_facet(**changes) -> dict:
    contract = facet(contractId="urn:x", contractVersion="1.0.0", status="active", access="public", location="/x")
    return {k: v for k, v in {**contract, **changes}.items() if v is not None}


# Facets the catalog reads, each malformed in one field: (where, facet name, facet, the field path named).
MALFORMED_FACETS = {
    "contract freshnessHours a string": ("output", "contract", _contract_facet(freshnessHours="x"), "freshnessHours"),
    "contract access unknown": ("output", "contract", _contract_facet(access="everyone"), "access"),
    "contract columns not a list": ("output", "contract", _contract_facet(columns="x"), "columns"),
    "contract column without a name": ("output", "contract", _contract_facet(columns=[{}]), "columns[0]"),
    "contract version a number": ("output", "contract", _contract_facet(contractVersion=1), "contractVersion"),
    "contract without location": ("output", "contract", _contract_facet(location=None), "contract"),
    "owners a string": ("output", "ownership", facet(owners="x"), "ownership.owners"),
    "owner without a name": ("output", "ownership", facet(owners=[{}]), "owners[0]"),
    "owner name a number": ("output", "ownership", facet(owners=[{"name": 5}]), "owners[0].name"),
    "assertion empty": ("output", "dataQualityAssertions", facet(assertions=[{}]), "assertions[0]"),
    "assertion success a string": (
        "output",
        "dataQualityAssertions",
        facet(assertions=[{"assertion": "a", "success": "yes"}]),
        "assertions[0].success",
    ),
    "assertions a string": ("output", "dataQualityAssertions", facet(assertions="x"), "assertions"),
    "datasetVersion an object": ("output", "version", facet(datasetVersion={}), "version.datasetVersion"),
    "version without datasetVersion": ("output", "version", facet(), "facets.version"),
    "schema fields a string": ("output", "schema", facet(fields="x"), "schema.fields"),
    "schema field without a name": ("output", "schema", facet(fields=[{"type": "INT"}]), "fields[0]"),
    "documentation a number": ("output", "documentation", facet(description=5), "documentation.description"),
    "column lineage fields a string": ("output", "columnLineage", facet(fields="x"), "columnLineage.fields"),
    "column lineage input without namespace": (
        "output",
        "columnLineage",
        facet(fields={"c": {"inputFields": [{"name": "a", "field": "c"}]}}),
        "inputFields[0]",
    ),
    "row count a string": ("output statistics", "outputStatistics", facet(rowCount="many"), "rowCount"),
    "error message without message": ("run", "errorMessage", facet(programmingLanguage="python"), "errorMessage"),
    "nominal time not a time": ("run", "nominalTime", facet(nominalStartTime="yesterday"), "nominalStartTime"),
    "parent run id not a UUID": (
        "run",
        "parent",
        facet(run={"runId": "x"}, job={"namespace": "n", "name": "j"}),
        "parent.run.runId",
    ),
    "job documentation a list": ("job", "documentation", facet(description=[]), "documentation.description"),
}


def _with_facet(where: str, name: str, value: dict) -> dict:
    event = run_event("load", outputs=[dataset("orders", columns=("id",))])
    if where == "output":
        event["outputs"][0]["facets"][name] = value
    elif where == "output statistics":
        event["outputs"][0]["outputFacets"] = {name: value}
    else:
        event[where]["facets"][name] = value
    return event


@pytest.mark.parametrize("case", list(MALFORMED_FACETS), ids=list(MALFORMED_FACETS))
def test_a_malformed_facet_is_refused_naming_facet_and_field_and_pages_keep_serving(server: Server, case: str):
    where, name, value, field = MALFORMED_FACETS[case]
    requests.post(
        f"{server.url}/api/v1/lineage", json=_with_facet("output", "contract", _contract_facet()), headers=AUTH
    )
    before = _stored(server.catalog)
    response = requests.post(f"{server.url}/api/v1/lineage", json=_with_facet(where, name, value), headers=AUTH)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert f"facet {name!r}" in message and field in message, message
    assert _stored(server.catalog) == before
    for page in ("/", "/products/orders", "/api/v1/search?q=orders"):
        assert requests.get(f"{server.url}{page}").status_code == 200, page


def _bad_body(kind: str | bytes) -> bytes:
    if isinstance(kind, bytes):
        return kind
    event = run_event("load", outputs=[dataset("orders", columns=("id",))])
    if kind == "no_run_id":
        del event["run"]["runId"]
    elif kind == "no_event_time":
        del event["eventTime"]
    elif kind == "bad_run_id":
        event["run"]["runId"] = "run-1"
    elif kind == "nul_name":
        event["outputs"][0]["name"] = "orders\u0000"
    elif kind == "year_one":
        event["eventTime"] = "0001-01-01T00:00:00+01:00"
    elif kind == "huge_count":
        event["outputs"][0]["outputFacets"] = {"outputStatistics": facet(rowCount=2**63)}
    elif kind == "long_name":
        event["outputs"][0]["name"] = "x" * 2000
    elif kind == "long_version":
        event["outputs"][0]["facets"]["version"] = facet(datasetVersion="9" * 300)
    elif kind == "bad_facet":
        del event["outputs"][0]["facets"]["schema"]["_producer"]
    elif kind == "deep_facet":  # a valid event but for one facet 70 lists deep
        event["job"]["facets"]["deep"] = {
            "_producer": "x:y",
            "_schemaURL": "x:y",
            "value": json.loads("[" * 70 + "]" * 70),
        }
    elif kind == "oversized":
        event["job"]["facets"]["padding"] = {"_producer": "x:y", "_schemaURL": "x:y", "text": "x" * 6_000_000}
    elif kind == "zip_bomb":
        return gzip.compress(b" " * 20_000_000 + json.dumps(event).encode())
    return json.dumps(event).encode()


@pytest.mark.parametrize("case", list(BAD_POSTS), ids=list(BAD_POSTS))
def test_bad_posts_are_refused_with_a_message_and_store_nothing(server: Server, case: str):
    body, headers, status, message = BAD_POSTS[case]
    before = _stored(server.catalog)
    sent = {"Content-Type": "application/json", **AUTH, **headers}
    response = requests.post(
        f"{server.url}/api/v1/lineage", data=_bad_body(body), headers={k: v for k, v in sent.items() if v}
    )
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert _stored(server.catalog) == before
    good = requests.post(f"{server.url}/api/v1/lineage", json=run_event("load"), headers=AUTH)
    assert good.status_code == 201  # still serving, and writes work


def test_oversized_chunked_body_is_refused(server: Server):
    def chunks():
        for _ in range(7):
            yield b"x" * 1_000_000

    response = requests.post(f"{server.url}/api/v1/lineage", data=chunks(), headers=AUTH)
    assert response.status_code == 413 and "exceeds" in response.json()["message"]
    assert _stored(server.catalog) == (0, 0)


BAD_READS = {
    "nodeId that does not parse": ("/api/v1/lineage", {"nodeId": "orders"}, 400, "does not parse"),
    "nodeId of an unknown kind": ("/api/v1/lineage", {"nodeId": f"table:{NS}:ds1"}, 400, "does not parse"),
    "nodeId that does not exist": ("/api/v1/lineage", {"nodeId": f"dataset:{NS}:nope"}, 404, "names no dataset"),
    "missing nodeId": ("/api/v1/lineage", {}, 400, "nodeId: Field required"),
    "negative depth": ("/api/v1/lineage", {"nodeId": f"dataset:{NS}:ds1", "depth": -1}, 400, "depth: Input should be"),
    "absurd depth": ("/api/v1/lineage", {"nodeId": f"dataset:{NS}:ds1", "depth": 10**9}, 400, "less than or equal"),
    "non-numeric depth": ("/api/v1/lineage", {"nodeId": f"dataset:{NS}:ds1", "depth": "deep"}, 400, "valid integer"),
    "column lineage of a bad node": ("/api/v1/column-lineage", {"nodeId": "datasetField:x"}, 400, "does not parse"),
    "SQL quote and comment": ("/api/v1/search", {"q": "ds1' OR 1=1 --"}, 400, "contains"),
    "SQL statement": ("/api/v1/search", {"q": "x; DROP TABLE datasets"}, 400, "contains ;"),
    "unknown namespace": ("/api/v1/namespaces/nope/datasets", {}, 404, "no namespace 'nope'"),
    "a NUL in a path": ("/api/v1/namespaces/no%00pe/datasets", {}, 400, "holds a NUL character"),
    "a NUL in a node id": ("/api/v1/lineage", {"nodeId": f"dataset:{NS}:d\x00s1"}, 400, "holds a NUL character"),
    **{
        f"offset 2**63 on {path}": (path, {"offset": 2**63}, 400, "offset: Input should be less than or equal to")
        for path in (
            "/api/v1/namespaces",
            f"/api/v1/namespaces/{NS.replace('/', '%2F')}/datasets",
            f"/api/v1/namespaces/{NS.replace('/', '%2F')}/datasets/ds1/versions",
            f"/api/v1/namespaces/{NS.replace('/', '%2F')}/jobs",
            f"/api/v1/namespaces/{NS.replace('/', '%2F')}/jobs/job1/runs",
            "/api/v1/events/lineage",
            f"/api/v1/events/{NS.replace('/', '%2F')}",
        )
    },
    "unknown dataset": (f"/api/v1/namespaces/{NS.replace('/', '%2F')}/datasets/nope", {}, 404, "no dataset 'nope'"),
}


@pytest.mark.parametrize("case", list(BAD_READS), ids=list(BAD_READS))
def test_bad_reads_get_a_4xx_with_a_message(server: Server, case: str):
    for event in chain(1):
        server.catalog.ingest(event)
    path, params, status, message = BAD_READS[case]
    response = requests.get(server.url + path, params=params)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert _stored(server.catalog) == (1, 2)  # nothing dropped or changed
    assert requests.get(f"{server.url}/api/v1/namespaces").status_code == 200


def test_cli_serves_on_loopback_with_a_token(tmp_path):
    env = {**os.environ, "LAKEMESH_CATALOG_TOKEN": TOKEN, "LAKEMESH_LAKEHOUSE": str(tmp_path / "lakehouse")}
    url = f"sqlite:///{tmp_path / 'served.sqlite'}"
    with cli_serving(url, env=env) as (base, _):
        assert requests.post(f"{base}/api/v1/lineage", json=run_event("load")).status_code == 401
        assert requests.post(f"{base}/api/v1/lineage", json=run_event("load"), headers=AUTH).status_code == 201
        assert [n["name"] for n in requests.get(f"{base}/api/v1/namespaces").json()["namespaces"]] == ["etl"]
    assert Catalog(url).events()[1] == 1


def test_reads_can_be_protected_by_the_token_too(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.ingest(run_event("load"))
    with serving(catalog, token=TOKEN, protect_reads=True) as url:
        for path in ("/api/v1/namespaces", "/api/v1/events", "/"):
            refused = requests.get(url + path)
            assert refused.status_code == 401 and "Bearer <token>" in refused.json()["message"]
            assert requests.get(url + path, headers=AUTH).status_code == 200


MALLORY = "https://evil.example/mallory"


def _product_event(namespace: str, *, producer: str = PRODUCER, owner: str = "sales-team", location: str = "/lake"):
    return run_event(
        "sales.orders",
        producer=producer,
        outputs=[
            dataset(
                "sales.orders",
                namespace=namespace,
                columns=("order_key",),
                contract=_contract_facet(location=location),
                ownership=facet(owners=[{"name": f"team:{owner}"}]),
            )
        ],
    )


def test_a_dataset_spoofing_a_product_name_is_shown_as_another_dataset(server: Server):
    assert requests.post(f"{server.url}/api/v1/lineage", json=_product_event(NS), headers=AUTH).status_code == 201
    spoof = _product_event("s3://evil", producer=MALLORY, owner="mallory", location="s3://evil/orders")
    assert requests.post(f"{server.url}/api/v1/lineage", json=spoof, headers=AUTH).status_code == 201
    reader = run_event(  # a reader describing the product as an input: readers never describe what they read
        "steal", producer=MALLORY, inputs=[dataset("sales.orders", ownership=facet(owners=[{"name": "team:mallory"}]))]
    )
    assert requests.post(f"{server.url}/api/v1/lineage", json=reader, headers=AUTH).status_code == 201

    product = server.catalog.product("sales.orders")
    assert (product.namespace, product.owner, product.contract["location"]) == (NS, "sales-team", "/lake")
    assert [p.namespace for p in server.catalog.products()] == [NS]
    page = requests.get(f"{server.url}/products/sales.orders").text
    assert "sales-team" in page and "s3://evil/orders" not in page
    assert "s3://evil" in page and "another dataset" in page  # the namesake, shown as such
    assert "mallory" not in requests.get(f"{server.url}/").text
    elsewhere = requests.get(f"{server.url}/api/v1/namespaces/s3:%2F%2Fevil/datasets/sales.orders").json()
    assert elsewhere["facets"]["contract"]["location"] == "s3://evil/orders"  # stored: it is a dataset like any


def test_only_a_namesake_is_no_product(server: Server):
    spoof = _product_event("s3://evil", producer=MALLORY, owner="mallory")
    assert requests.post(f"{server.url}/api/v1/lineage", json=spoof, headers=AUTH).status_code == 201
    page = requests.get(f"{server.url}/products/sales.orders")
    assert page.status_code == 404 and "no product named" in page.text and "s3://evil" in page.text
    assert server.catalog.products() == []


SALES_TOKEN, SUPPLY_TOKEN = "sales-secret", "supply-secret"


@pytest.fixture
def scoped_server(catalog_url: str, tmp_path: Path) -> Iterator[Server]:
    """A catalog whose writers are the sales and supply domains, each with a token for its own products."""
    tokens = tmp_path / "catalog-tokens.yaml"
    tokens.write_text(
        "\n".join(
            f"{domain}:\n  sha256: {hashlib.sha256(secret.encode()).hexdigest()}\n"
            f'  writes:\n    "warehouse://*": ["{domain}.*"]\n    etl: ["{domain}.*"]'
            for domain, secret in (("sales", SALES_TOKEN), ("supply", SUPPLY_TOKEN))
        )
    )
    catalog = Catalog(catalog_url)
    with serving(catalog, write_scopes=load_write_scopes(tokens)) as url:
        yield Server(url=url, catalog=catalog)


def test_a_domain_token_writes_its_own_products_only(scoped_server: Server):
    url = f"{scoped_server.url}/api/v1/lineage"
    own = _product_event(NS)
    assert requests.post(url, json=own, headers={"Authorization": f"Bearer {SALES_TOKEN}"}).status_code == 201
    before = _stored(scoped_server.catalog)
    refused = requests.post(url, json=own, headers={"Authorization": f"Bearer {SUPPLY_TOKEN}"})
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "the token of 'supply' may not write job 'sales.orders' in namespace 'etl'; nothing was stored"
    )
    sneaky = run_event("supply.parts", outputs=[dataset("sales.orders")])  # its own job, another's product
    refused = requests.post(url, json=sneaky, headers={"Authorization": f"Bearer {SUPPLY_TOKEN}"})
    assert refused.status_code == 403 and "may not write dataset 'sales.orders'" in refused.json()["message"]
    reads = run_event("supply.parts", inputs=[dataset("sales.orders")], outputs=[dataset("supply.parts")])
    assert requests.post(url, json=reads, headers={"Authorization": f"Bearer {SUPPLY_TOKEN}"}).status_code == 201
    assert _stored(scoped_server.catalog)[0] == before[0] + 1  # only the allowed event
    assert requests.post(url, json=own, headers={"Authorization": "Bearer nobody"}).status_code == 401
    assert scoped_server.catalog.product("sales.orders").owner == "sales-team"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sales: [1]", "expected exactly the keys 'sha256' and 'writes'"),
        ("sales:\n  sha256: abc\n  writes: {x: [y]}", "'sha256' must be the 64 hex digits"),
        (f"sales:\n  sha256: {'a' * 64}\n  writes: {{x: []}}", "non-empty list of name patterns"),
        ("[unclosed", "catalog tokens file"),
    ],
)
def test_a_malformed_tokens_file_is_refused_whole(tmp_path: Path, text: str, message: str):
    from lakemesh.errors import LakemeshError

    path = tmp_path / "tokens.yaml"
    path.write_text(text)
    with pytest.raises(LakemeshError, match=re.escape(message)):
        load_write_scopes(path)


def test_the_readme_tokens_example_loads_and_scopes_the_sales_domain(tmp_path: Path):
    section = (PROJECT_DIR / "README.md").read_text().split("### The catalog service", 1)[1]
    (block,) = re.findall(r"```yaml\n(.*?)```", section.split("\n## ", 1)[0], flags=re.S)
    path = tmp_path / "catalog-tokens.yaml"
    path.write_text(textwrap.dedent(block))
    (sales,) = load_write_scopes(path)
    assert sales.holds("password") and not sales.holds("Password")
    assert sales.allows("lakemesh:///srv/lakehouse", "sales.orders")
    assert not sales.allows("lakemesh:///srv/lakehouse", "supply.parts")
