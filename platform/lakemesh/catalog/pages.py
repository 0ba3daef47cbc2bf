"""Product pages in the browser: an index with search, and one page per product.

Pages are rendered on the server from the same store the API reads (no
JavaScript needed), with the lineage graph inlined as SVG so its boxes link
from product to product.
"""

from __future__ import annotations

from collections.abc import Callable
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

__all__ = ["page_routes"]

_templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _product_href(name: str) -> str:
    return f"/products/{quote(name, safe='')}"


def page_routes(catalog: Catalog, *, read_access: Callable[[Request], None], namespace: str | None = None) -> APIRouter:
    """The HTML routes: `/` (index and search) and `/products/<domain>.<product>`.

    `namespace`: the lakehouse whose products the pages show (the platform's datasets elsewhere are not its).
    """
    router = APIRouter(dependencies=[Depends(read_access)], include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def index(request: Request, q: str = "") -> HTMLResponse:
        products = catalog.products(namespace=namespace, query=q.strip() or None)
        return _templates.TemplateResponse(
            request,
            "index.html",
            {"products": products, "q": q, "now": datetime.now(UTC), "href": _product_href},
        )

    @router.get("/products/{name}", response_class=HTMLResponse)
    def product_page(request: Request, name: str, depth: int = 3) -> HTMLResponse:
        try:
            product = catalog.product(unquote(name), namespace=namespace)
        except NotFound as error:
            return _templates.TemplateResponse(request, "missing.html", {"message": str(error)}, status_code=404)
        lineage = product_graph(catalog, product.name, namespace=product.namespace, depth=min(max(depth, 1), 10))
        products = {name for _, name in catalog.product_names(namespace=product.namespace)}
        upstream = sorted(n for n, d in lineage.datasets.items() if d < 0)
        downstream = sorted(n for n, d in lineage.datasets.items() if d > 0)
        picture = lineage_svg(lineage, link=lambda n: _product_href(n) if n in products else None)
        return _templates.TemplateResponse(
            request,
            "product.html",
            {
                "p": product,
                "now": datetime.now(UTC),
                "svg": Markup(picture),  # built with every name escaped
                "upstream": upstream,
                "downstream": downstream,
                "products": products,
                "href": _product_href,
                "columns": {c["name"]: c for c in product.contract.get("columns", [])},
                "namesakes": catalog.namesakes(product.name),
            },
        )

    return router
