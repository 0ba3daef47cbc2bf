"""The catalog server holds its connections: a slow request is cut off, a page is rendered once per change."""

import os
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import requests
from lakemesh.catalog import Catalog
from lakemesh.catalog.api import create_app
from lakemesh.catalog.pages import PageCache

from .conftest import TOKEN, cli_serving, serving, serving_app
from .events import dataset, run_event

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _connect(url: str) -> socket.socket:
    address = urlparse(url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection (without a successful answer) within `seconds`."""
    sock.settimeout(seconds)
    try:
        answer = sock.recv(65536)
    except TimeoutError:
        return False
    return not answer.startswith(b"HTTP/1.1 2")


def test_a_request_whose_headers_never_end_is_closed_at_its_deadline(catalog_url: str):
    with serving_app(create_app(Catalog(catalog_url)), request_timeout=1.0) as url:
        slow = _connect(url)
        slow.sendall(b"GET / HTTP/1.1\r\nHost: catalog\r\nX-Trickle: a")  # and never the rest
        started = time.monotonic()
        assert _closed_within(slow, 8), "the server kept a request without end of headers open"
        assert time.monotonic() - started < 5
        assert requests.get(f"{url}/api/v1/namespaces", timeout=10).status_code == 200  # others are served


def test_a_body_that_never_arrives_whole_is_closed_at_its_deadline_and_nothing_is_stored(catalog_url: str):
    catalog = Catalog(catalog_url)
    with serving_app(create_app(catalog, token=TOKEN), request_timeout=1.0) as url:
        slow = _connect(url)
        slow.sendall(
            b"POST /api/v1/lineage HTTP/1.1\r\nHost: catalog\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b'\r\nContent-Length: 5000\r\n\r\n{"eventType": '
        )
        assert _closed_within(slow, 8), "the server waited for ever for the rest of the body"
    assert catalog.events(limit=1)[1] == 0


def test_a_page_is_rendered_once_per_change_of_the_catalog(catalog_url: str):
    catalog = Catalog(catalog_url)
    cache = PageCache(catalog)
    app = create_app(catalog, token=TOKEN, page_cache=cache)
    with serving_app(app) as url:
        first = requests.get(f"{url}/", timeout=10).text
        for _ in range(20):
            assert requests.get(f"{url}/", timeout=10).text == first
        assert cache.rendered == 1

        event = run_event("new_job", outputs=[dataset("brand_new_dataset")])
        assert requests.post(f"{url}/api/v1/lineage", json=event, headers=AUTH, timeout=10).status_code in (200, 201)

        for _ in range(5):
            requests.get(f"{url}/", timeout=10)
        assert cache.rendered == 2  # the catalog moved: rendered anew, once


def _cli_serving(tmp_path: Path, *args: str):
    """`lakemesh catalog serve` with no token in its environment, on the catalog `served.sqlite` in `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAKEMESH_CATALOG_TOKEN", "LAKEMESH_CATALOG_TOKENS")}
    env["LAKEMESH_LAKEHOUSE"] = str(tmp_path / "lakehouse")
    return cli_serving(f"sqlite:///{tmp_path / 'served.sqlite'}", *args, env=env)


def test_a_served_catalog_without_a_token_makes_one_and_refuses_anonymous_writes(tmp_path: Path):
    with _cli_serving(tmp_path) as (base, _):
        token_file = tmp_path / "served.token"
        token = token_file.read_text().strip()
        assert requests.post(f"{base}/api/v1/lineage", json=run_event("load"), timeout=10).status_code == 401
        signed = {"Authorization": f"Bearer {token}"}
        assert requests.post(f"{base}/api/v1/lineage", json=run_event("load"), headers=signed).status_code == 201
    assert token_file.stat().st_mode & 0o777 == 0o600 and len(token) >= 40
    with _cli_serving(tmp_path) as (base, process):  # the next serve keeps the same token
        assert requests.post(f"{base}/api/v1/lineage", json=run_event("again"), headers=signed).status_code == 201
    assert f"writes need the token in {token_file}" in process.stderr.read().decode()
    assert Catalog(f"sqlite:///{tmp_path / 'served.sqlite'}").events()[1] == 2


def test_insecure_no_auth_is_an_explicit_choice_and_says_so(tmp_path: Path):
    with _cli_serving(tmp_path, "--insecure-no-auth") as (base, process):
        assert requests.post(f"{base}/api/v1/lineage", json=run_event("load"), timeout=10).status_code == 201
    assert "warning: --insecure-no-auth" in process.stderr.read().decode()
    assert not (tmp_path / "served.token").exists()


def test_the_api_docs_work_offline(catalog_url: str):
    """/docs loads Swagger UI from the server itself, never from a CDN, and it can render the OpenAPI 3.1 schema."""
    with serving(Catalog(catalog_url), token=TOKEN) as url:
        page = requests.get(f"{url}/docs", timeout=10)
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(source.startswith(url) or source.startswith("/") for source in sources), sources
        script = next(s for s in sources if s.endswith(".js"))
        bundle = requests.get(script if script.startswith("http") else f"{url}{script}", timeout=10)
        assert bundle.status_code == 200 and len(bundle.content) > 1_000_000
        assert requests.get(f"{url}/openapi.json", timeout=10).json()["openapi"].startswith("3.1")
