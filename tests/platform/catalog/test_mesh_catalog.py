"""The catalog over a real mesh run: its events replayed over HTTP, read back by Marquez's client,
and the product page rendered in headless Chromium."""

import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import requests
from lakemesh.catalog import Catalog, impact, product_lineage
from lakemesh.cli import app
from lakemesh.orchestration.mesh import load_workspace, materialize_mesh
from lakemesh.settings import Settings
from marquez_client import MarquezClient
from openlineage.client.transport.http import HttpConfig, HttpTransport

from ...conftest import PROJECT_DIR
from .chromium import chromium, evaluate_in_chromium
from .conftest import TOKEN, Server, serving

pytestmark = pytest.mark.slow

ARTIFACTS = PROJECT_DIR / "test-artifacts" / "catalog"
UPSTREAM = {"customers.customer", "customers.nation", "sales.line_items", "sales.orders", "supply.suppliers"}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, tpch_landing: Path) -> Iterator[Settings]:
    """The sample mesh materialized once into its own lakehouse, with the embedded SQLite catalog."""
    root = tmp_path_factory.mktemp("mesh")
    shutil.copytree(tpch_landing, root / "landing")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAKEMESH_LAKEHOUSE", str(root / "lakehouse"))
        env.setenv("LAKEMESH_LANDING", str(root / "landing"))
        env.setenv("LAKEMESH_PROJECT_DIR", str(PROJECT_DIR))
        for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE__TRANSPORT__TYPE", "LAKEMESH_CATALOG_URL"):
            env.delenv(name, raising=False)
        with dg.instance_for_test() as instance:
            assert materialize_mesh(load_workspace(PROJECT_DIR), instance=instance, log_file=root / "run.log").success
        yield Settings.from_env()


def test_mesh_events_replayed_over_http_read_the_same_through_marquez(mesh: Settings, server: Server):
    embedded = Catalog(mesh.catalog_url)
    events, total = embedded.events(limit=1000)
    transport = HttpTransport(
        HttpConfig.from_dict({"type": "http", "url": server.url, "auth": {"type": "api_key", "apiKey": TOKEN}})
    )
    for event in reversed(events):  # oldest first, as they were emitted
        transport.emit(event)

    marquez = MarquezClient(server.url)
    assert marquez.list_events(limit=1000)["totalCount"] == total
    products = [d["name"] for d in marquez.list_datasets(mesh.namespace)["datasets"]]
    assert products == sorted(p.name for p in embedded.products())
    for name in products:
        assert server.catalog.product(name).checks == embedded.product(name).checks
        assert marquez.get_dataset(mesh.namespace, name)["currentVersion"] == embedded.product(name).current_version

    columns = marquez.get_column_lineage_by_dataset(mesh.namespace, "sales.revenue_by_nation", depth=1)["graph"]
    revenue = next(n for n in columns if n["id"].endswith("sales.revenue_by_nation:revenue"))
    assert {(f["dataset"], f["field"]) for f in revenue["data"]["inputFields"]} == {
        ("sales.line_items", "extended_price"),
        ("sales.line_items", "discount"),
    }
    graph = requests.get(
        f"{server.url}/api/v1/lineage",
        params={"nodeId": f"dataset:{mesh.namespace}:sales.revenue_by_nation", "depth": 0},
    ).json()["graph"]
    node = next(n for n in graph if n["id"] == f"dataset:{mesh.namespace}:sales.revenue_by_nation")
    assert node["inEdges"] == [{"origin": "job:lakemesh:sales.revenue_by_nation", "destination": node["id"]}]
    job = next(n for n in graph if n["id"] == "job:lakemesh:sales.revenue_by_nation")
    assert {d["name"] for d in job["data"]["inputs"]} == UPSTREAM


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_product_page_in_headlesschromium(mesh: Settings):
    with serving(Catalog(mesh.catalog_url)) as url:
        page = f"{url}/products/sales.revenue_by_nation"
        dom = chromium("--dump-dom", page).stdout
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "sales.revenue_by_nation.png"
        screenshot.unlink(missing_ok=True)
        chromium(f"--screenshot={screenshot}", page)
        index = chromium("--dump-dom", f"{url}/?q=revenue").stdout
        missing = requests.get(f"{url}/products/sales.nope")

    assert _png_size(screenshot) == (1400, 1900)
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
    assert '<h1 id="product-name">sales.revenue_by_nation</h1>' in dom
    assert 'id="owner">sales-analytics<' in dom
    for column in ("region_name", "nation_name", "order_year", "revenue"):
        assert f"<code>{column}</code>" in dom
    for product in UPSTREAM:
        assert f'<a class="upstream" href="/products/{product}">{product}</a>' in dom
        assert f'data-dataset="{product}"' in dom  # a box in the lineage picture, linking to the product
    assert "<svg" in dom and "fresh:" in dom and "Delta version" in dom
    assert "sales.revenue_by_nation" in index and "customers.customer" not in index
    assert missing.status_code == 404 and "no product named &#39;sales.nope&#39;" in missing.text


def test_the_api_docs_render_in_headless_chromium_without_a_network(catalog_url: str):
    """Swagger UI comes from the server's own package and renders the catalog's OpenAPI 3.1 schema."""
    with serving(Catalog(catalog_url), token=TOKEN) as url:
        dom = chromium("--virtual-time-budget=10000", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
                        "--dump-dom", f"{url}/docs").stdout  # fmt: skip
    assert "/api/v1/namespaces" in dom and "opblock" in dom
    assert "Unable to render this definition" not in dom


def test_the_model_reads_as_its_domain_s_with_its_owner(mesh: Settings):
    """A breaking change's readers name the model by its domain and owning team, not by the registry's URI."""
    readers = {
        r.name: r for r in impact(Catalog(mesh.catalog_url), "logistics.shipment_features", namespace=mesh.namespace)
    }
    model = readers["logistics.late_delivery"]
    assert (model.domain, model.owner) == ("logistics", "logistics-analytics")


_PICTURE = """(() => {
  const svg = document.querySelector('svg.lineage');
  const shown = svg.getBoundingClientRect();
  const frame = svg.parentElement;
  return {
    width: +svg.getAttribute('width'), height: +svg.getAttribute('height'), shown: [shown.width, shown.height],
    frame: {overflow: getComputedStyle(frame).overflowX, scrollWidth: frame.scrollWidth},
    nodes: [...svg.querySelectorAll('.node')].map(node => {
      const rect = node.querySelector('rect');
      return {
        name: node.dataset.dataset, kind: node.dataset.kind,
        x: +rect.getAttribute('x'), y: +rect.getAttribute('y'),
        w: +rect.getAttribute('width'), h: +rect.getAttribute('height'),
        texts: [...node.querySelectorAll('text')].map(t => [t.textContent, t.getComputedTextLength()]),
      };
    }),
    edges: [...svg.querySelectorAll('path.edge')].map(edge => {
      const b = edge.getBBox();
      return {from: edge.dataset.from, to: edge.dataset.to, box: [b.x, b.y, b.x + b.width, b.y + b.height]};
    }),
  };
})()"""


@pytest.mark.parametrize("product", ["logistics.late_delivery_predictions", "customers.customer"])
def test_the_lineage_picture_draws_the_model_as_a_model_and_cuts_nothing(mesh: Settings, product: str):
    """Measured in Chromium: every dataset right of its inputs, every label inside its box, every box and edge
    inside the picture, and the picture at its own size (its frame scrolls when the page is narrower)."""
    with serving(Catalog(mesh.catalog_url)) as url:
        picture = evaluate_in_chromium(f"{url}/products/{product}", _PICTURE)

    nodes = {node["name"]: node for node in picture["nodes"]}
    model = nodes["logistics.late_delivery"]  # by its name, not the registry's URI
    assert model["kind"] == "model" and [text for text, _ in model["texts"]] == ["logistics.late_delivery", "model v1"]
    assert not any(name.startswith("sqlite:") or ":" in name for name in nodes)
    assert [text for text, _ in nodes[product]["texts"]] == [product]  # the page's own product, uncut
    for node in nodes.values():
        assert all(length <= node["w"] - 8 for _, length in node["texts"]), node  # no label overflows its box
        assert 0 <= node["x"] <= picture["width"] - node["w"], node
        assert 0 <= node["y"] <= picture["height"] - node["h"], node
    edges = {(e["from"], e["to"]) for e in picture["edges"]}
    assert ("logistics.shipment_features", "logistics.late_delivery") in edges
    assert ("logistics.late_delivery", "logistics.late_delivery_predictions") in edges
    for edge in picture["edges"]:
        source, target = nodes[edge["from"]], nodes[edge["to"]]
        assert source["x"] + source["w"] < target["x"], edge  # every dataset right of its inputs: no hooks back
        left, top, right, bottom = edge["box"]
        assert 0 <= left <= right <= picture["width"] and 0 <= top <= bottom <= picture["height"], edge
    assert picture["shown"] == [picture["width"] + 2, picture["height"] + 2]  # its own size and border, not squeezed
    assert picture["frame"]["overflow"] == "auto" and picture["frame"]["scrollWidth"] >= picture["width"]


def test_lineage_trees_name_the_model_and_show_each_dataset_in_full_where_first_printed(
    mesh: Settings, capfd: pytest.CaptureFixture
):
    tree = product_lineage(
        Catalog(mesh.catalog_url), "logistics.late_delivery_predictions", direction="upstream", depth=3,
        namespace=mesh.namespace,
    )  # fmt: skip
    model, features = tree.children  # in print order: the model first
    assert (model.name, model.model, model.version) == ("logistics.late_delivery", True, "1")
    assert [c.name for c in model.children] == ["logistics.shipment_features"]
    assert not model.children[0].repeated and model.children[0].children  # in full where first printed
    assert features.name == "logistics.shipment_features" and features.repeated and not features.children

    with pytest.MonkeyPatch.context() as env:
        env.setenv("COLUMNS", "80")
        with pytest.raises(SystemExit) as done:
            app(["catalog", "lineage", "logistics.late_delivery_predictions"], prog_name="lakemesh")
    shown = capfd.readouterr().out
    assert done.value.code == 0, shown
    assert "logistics.late_delivery  (model v1, via logistics.late_delivery_predictions)" in shown
    assert "sqlite:" not in shown and "mlflow.db" not in shown
    full, reference = (
        shown.index("logistics.shipment_features  (via logistics.late_delivery)"),
        shown.index("(shown above)"),
    )
    assert full < reference
