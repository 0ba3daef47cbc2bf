"""Product pages in the browser: an index with search, and one page per product.

Pages are rendered on the server from the same store the API reads (no
JavaScript needed), with the lineage graph inlined as SVG so its boxes link
from product to product. A page is rendered once per state of the catalog (and
minute, for the freshness it shows) and served from memory until either moves:
a thousand readers of one page cost one rendering, not a thousand.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from lakemesh.catalog.store import Catalog, NotFound
from lakemesh.catalog.svg import lineage_svg
from lakemesh.catalog.trees import product_graph

__all__ = ["PageCache", "page_routes"]

_templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class PageCache:
    """Rendered pages by what they show: the request's own key, the catalog's state and the minute.

    One rendering at a time, so a burst of readers of a page that is not cached yet waits for one rendering
    instead of starting one each.
    """

    def __init__(self, catalog: Catalog, *, size: int = 512) -> None:
        self.catalog = catalog
        self.size = size
        self.rendered = 0
        """How many pages were rendered (not served from memory)."""
        self._pages: OrderedDict[Hashable, tuple[str, int]] = OrderedDict()
        self._rendering = threading.Lock()

    def page(self, key: Hashable, render: Callable[[], tuple[str, int]]) -> HTMLResponse:
        """The page for `key` as of now, rendered by `render` (its HTML and status) when the catalog moved."""
        full = (key, self.catalog.state(), int(time.time() // 60))
        found = self._pages.get(full)
        if found is None:
            with self._rendering:
                found = self._pages.get(full)
                if found is None:
                    found = render()
                    self.rendered += 1
                    self._pages[full] = found
                    while len(self._pages) > self.size:
                        self._pages.popitem(last=False)
        return HTMLResponse(found[0], status_code=found[1])


def _render(template: str, **context: object) -> str:
    return _templates.env.get_template(template).render(**context)


def _product_href(name: str) -> str:
    return f"/products/{quote(name, safe='')}"


def page_routes(
    catalog: Catalog, *, read_access: Callable[[Request], None], cache: PageCache, namespace: str | None = None
) -> APIRouter:
    """The HTML routes: `/` (index and search) and `/products/<domain>.<product>`.

    `namespace`: the lakehouse whose products the pages show (the platform's datasets elsewhere are not its).
    """
    router = APIRouter(dependencies=[Depends(read_access)], include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def index(q: str = "") -> HTMLResponse:
        def render() -> tuple[str, int]:
            products = catalog.products(namespace=namespace, query=q.strip() or None)
            return _render("index.html", products=products, q=q, now=datetime.now(UTC), href=_product_href), 200

        return cache.page(("index", q), render)

    @router.get("/products/{name}", response_class=HTMLResponse)
    def product_page(name: str, depth: int = 3) -> HTMLResponse:
        return cache.page(("product", name, depth), lambda: _product_html(unquote(name), depth))

    def _product_html(name: str, depth: int) -> tuple[str, int]:
        try:
            product = catalog.product(name, namespace=namespace)
        except NotFound as error:
            return _render("missing.html", message=str(error)), 404
        lineage = product_graph(catalog, product.name, namespace=product.namespace, depth=min(max(depth, 1), 10))
        products = {name for _, name in catalog.product_names(namespace=product.namespace)}
        upstream = sorted(n for n, d in lineage.datasets.items() if d < 0)
        downstream = sorted(n for n, d in lineage.datasets.items() if d > 0)
        picture = lineage_svg(lineage, link=lambda n: _product_href(n) if n in products else None)
        html = _render(
            "product.html",
            p=product,
            now=datetime.now(UTC),
            svg=Markup(picture),  # built with every name escaped
            upstream=upstream,
            downstream=downstream,
            products=products,
            href=_product_href,
            columns={c["name"]: c for c in product.contract.get("columns", [])},
            namesakes=catalog.namesakes(product.name),
        )
        return html, 200

    return router
