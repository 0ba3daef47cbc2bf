"""The catalog over HTTP: OpenLineage ingestion and Marquez's read API, plus product pages.

`POST /api/v1/lineage` takes OpenLineage run events from any producer (the
standard HTTP transport included); the `GET` endpoints follow Marquez's paths
and JSON shapes so Marquez clients work unchanged. Errors are `{"code",
"message"}` like Marquez's, and a rejected request stores nothing.
"""

from __future__ import annotations

import re
import secrets
import zlib
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_swagger import patch_fastapi
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from lakemesh.catalog.access import WriteScope
from lakemesh.catalog.columns import column_lineage_graph
from lakemesh.catalog.graph import lineage_graph_json
from lakemesh.catalog.impact import impact
from lakemesh.catalog.pages import PageCache, page_routes
from lakemesh.catalog.resolve import MAX_DEPTH, InvalidNodeId
from lakemesh.catalog.store import Catalog, NotFound
from lakemesh.catalog.writer import GroupCommit
from lakemesh.errors import LakemeshError
from lakemesh.lineage.validation import InvalidEvent, check_run_event

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MAX_JSON_DEPTH", "ApiError", "create_app"]

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
_SEARCH_TERM = re.compile(r"[\w\s.\-:/%*@+]*")


class ErrorMessage(BaseModel):
    """Every error, Marquez's shape: the status again and a message for a person."""

    code: int
    message: str


_ERRORS = {
    400: "The request or the event is malformed; the message names the field",
    401: "A bearer token is needed",
    403: "The token may not write this job or dataset",
    404: "Nothing of that name is known",
    413: "The body is larger than the catalog accepts",
    415: "Unsupported Content-Encoding",
}


class ApiError(LakemeshError):
    """An HTTP error with a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message
        super().__init__(message)


class _EncodedSlashes:
    """Route on the raw path so that `%2F` inside a name (namespaces are URIs) stays inside its segment.

    Path parameters then arrive percent-encoded and handlers decode them once. A NUL character, which no
    name holds and PostgreSQL cannot compare, is refused here for every route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and b"%00" in (raw or b"") + b"?" + scope.get("query_string", b""):
            refusal = JSONResponse({"code": 400, "message": "the URL holds a NUL character (%00)"}, status_code=400)
            await refusal(scope, receive, send)
            return
        if scope["type"] == "http" and raw:
            segments = (unquote(s) for s in raw.decode("latin-1").split("?", 1)[0].split("/"))
            scope = {**scope, "path": "/".join(s.replace("%", "%25").replace("/", "%2F") for s in segments)}
        await self.app(scope, receive, send)


Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10**9)]  # beyond a 64-bit SQL integer it would be a server error
Depth = Annotated[int, Query(ge=0, le=MAX_DEPTH)]
NodeId = Annotated[
    str,
    Query(
        alias="nodeId",
        json_schema_extra={"pattern": r"^(dataset|job|datasetField):[^:]+:.+$"},  # the handler says what is wrong
        description="dataset:<namespace>:<name>, job:<namespace>:<name> or datasetField:<namespace>:<name>:<field>",
    ),
]


def create_app(
    catalog: Catalog,
    *,
    token: str | None = None,
    write_scopes: Sequence[WriteScope] = (),
    protect_reads: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    namespace: str | None = None,
    page_cache: PageCache | None = None,
) -> ASGIApp:
    """The catalog's ASGI application; product pages show the products of the lakehouse `namespace` (all when None).

    With a `token` or `write_scopes`, writes need `Authorization: Bearer <token>`: the `token` may write
    anything, a scope's token only the namespaces and names of its scope (403 otherwise).
    """
    app = FastAPI(
        title="Lakemesh catalog",
        version="1",
        summary="OpenLineage catalog with a Marquez-compatible API",
        responses={status: {"model": ErrorMessage, "description": why} for status, why in _ERRORS.items()},
        docs_url=None,  # FastAPI's own pages load Swagger UI and ReDoc from a CDN: blank without internet
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    patch_fastapi(app, redirect_from_root_to_docs=False)  # /docs with Swagger UI served from its package
    writer_of_events = GroupCommit(catalog)

    def authorize(request: Request, *, write: bool) -> WriteScope | None:
        """None when the request may do anything; the writer's scope when it holds a scoped token."""
        if (token is None and not write_scopes) or not (write or protect_reads):
            return None
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        given = given.strip()
        if scheme.lower() == "bearer" and given:
            if token is not None and secrets.compare_digest(given.encode(), token.encode()):
                return None
            for scope in write_scopes:
                if scope.holds(given):
                    return scope
        raise ApiError(401, "this catalog needs 'Authorization: Bearer <token>' for this request")

    def read_access(request: Request) -> None:
        authorize(request, write=False)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"code": error.status, "message": error.message}, status_code=error.status)

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"code": 404, "message": str(error)}, status_code=404)

    @app.exception_handler(InvalidNodeId)
    async def _bad_node(_request: Request, error: InvalidNodeId) -> JSONResponse:
        return JSONResponse({"code": 400, "message": str(error)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p not in ('query', 'path'))}: {e['msg']}" for e in error.errors()
        )
        return JSONResponse({"code": 400, "message": problems}, status_code=400)

    # -- ingestion ---------------------------------------------------------------------------------

    @app.post("/api/v1/lineage", status_code=201, tags=["Lineage"])
    async def record_lineage(request: Request) -> dict[str, Any]:
        """Store one OpenLineage run event."""
        writer = authorize(request, write=True)
        body = await _read_body(request, max_body_bytes)
        try:
            event = check_run_event(_parse_json(body))
        except InvalidEvent as error:
            raise ApiError(400, str(error)) from None
        if writer is not None and (refusal := writer.refusal(event)):
            raise ApiError(403, f"{refusal}; nothing was stored")
        try:
            await writer_of_events.store(event)
        except InvalidEvent as error:  # it contradicts what is stored (a run of another job)
            raise ApiError(400, str(error)) from None
        return {"runId": event["run"]["runId"], "eventType": event.get("eventType")}

    # -- Marquez read API --------------------------------------------------------------------------

    reads = [Depends(read_access)]

    @app.get("/api/v1/namespaces", dependencies=reads, tags=["Namespaces"])
    def list_namespaces(limit: Limit = 100, offset: Offset = 0) -> Response:
        found, total = catalog.namespaces(limit=limit, offset=offset)
        return _json({"namespaces": found, "totalCount": total})

    @app.get("/api/v1/namespaces/{namespace}", dependencies=reads, tags=["Namespaces"])
    def get_namespace(namespace: str) -> Response:
        return _json(catalog.namespace(unquote(namespace)))

    @app.get("/api/v1/namespaces/{namespace}/datasets", dependencies=reads, tags=["Datasets"])
    def list_datasets(namespace: str, limit: Limit = 100, offset: Offset = 0) -> Response:
        found, total = catalog.datasets(unquote(namespace), limit=limit, offset=offset)
        return _json({"datasets": found, "totalCount": total})

    @app.get("/api/v1/namespaces/{namespace}/datasets/{dataset}", dependencies=reads, tags=["Datasets"])
    def get_dataset(namespace: str, dataset: str) -> Response:
        return _json(catalog.dataset(unquote(namespace), unquote(dataset)))

    @app.get("/api/v1/namespaces/{namespace}/datasets/{dataset}/versions", dependencies=reads, tags=["Datasets"])
    def list_dataset_versions(namespace: str, dataset: str, limit: Limit = 100, offset: Offset = 0) -> Response:
        found, total = catalog.dataset_versions(unquote(namespace), unquote(dataset), limit=limit, offset=offset)
        return _json({"versions": found, "totalCount": total})

    @app.get("/api/v1/namespaces/{namespace}/jobs", dependencies=reads, tags=["Jobs"])
    def list_jobs(namespace: str, limit: Limit = 100, offset: Offset = 0) -> Response:
        found, total = catalog.jobs(unquote(namespace), limit=limit, offset=offset)
        return _json({"jobs": found, "totalCount": total})

    @app.get("/api/v1/namespaces/{namespace}/jobs/{job}", dependencies=reads, tags=["Jobs"])
    def get_job(namespace: str, job: str) -> Response:
        return _json(catalog.job(unquote(namespace), unquote(job)))

    @app.get("/api/v1/namespaces/{namespace}/jobs/{job}/runs", dependencies=reads, tags=["Jobs"])
    def list_job_runs(namespace: str, job: str, limit: Limit = 100, offset: Offset = 0) -> Response:
        found, total = catalog.job_runs(unquote(namespace), unquote(job), limit=limit, offset=offset)
        return _json({"runs": found, "totalCount": total})

    @app.get("/api/v1/jobs/runs/{run_id}", dependencies=reads, tags=["Jobs"])
    def get_run(run_id: str) -> Response:
        return _json(catalog.run(unquote(run_id)))

    @app.get("/api/v1/lineage", dependencies=reads, tags=["Lineage"])
    def get_lineage(node_id: NodeId, depth: Depth = 20) -> Response:
        return Response(lineage_graph_json(catalog, node_id, depth=depth), media_type="application/json")

    @app.get("/api/v1/column-lineage", dependencies=reads, tags=["Lineage"])
    def get_column_lineage(
        node_id: NodeId,
        depth: Depth = 20,
        with_downstream: Annotated[bool, Query(alias="withDownstream")] = False,
    ) -> Response:
        return _json(column_lineage_graph(catalog, node_id, depth=depth, with_downstream=with_downstream))

    @app.get("/api/v1/search", dependencies=reads, tags=["Search"])
    def search(
        q: Annotated[
            str, Query(min_length=1, max_length=200, json_schema_extra={"pattern": r"^(?!.*--)[\w\s.\-:/%*@+]+$"})
        ],
        kind: Annotated[str | None, Query(alias="filter", pattern="^(?i:dataset|job)$")] = None,
        sort: Annotated[str, Query(pattern="^(?i:name|updated_at)$")] = "name",
        limit: Limit = 10,
    ) -> Response:
        results, total = catalog.search(
            checked_search_term(q), kind=kind.lower() if kind else None, sort=sort.lower(), limit=limit
        )
        return _json({"totalCount": total, "results": results})

    @app.get("/api/v1/events/lineage", dependencies=reads, tags=["Lineage"])
    @app.get("/api/v1/events", dependencies=reads, tags=["Lineage"])
    def list_events(limit: Limit = 100, offset: Offset = 0) -> Response:
        found, total = catalog.events(limit=limit, offset=offset)
        return _json({"events": found, "totalCount": total})

    @app.get("/api/v1/events/{namespace:path}", dependencies=reads, tags=["Lineage"])
    def list_namespace_events(namespace: str, limit: Limit = 100, offset: Offset = 0) -> Response:
        found, total = catalog.events(namespace=unquote(namespace), limit=limit, offset=offset)
        return _json({"events": found, "totalCount": total})

    # -- Lakemesh additions ------------------------------------------------------------------------

    @app.get("/api/v1/products/{product}/impact", dependencies=reads, tags=["Products"])
    def get_impact(product: str, column: str | None = None) -> Response:
        """Every downstream dataset, domain and owner a change to the product (or one column) reaches."""
        found = impact(catalog, unquote(product), column=column)
        return _json({"impact": [entry.__dict__ for entry in found]})

    cache = page_cache if page_cache is not None else PageCache(catalog)
    app.include_router(page_routes(catalog, read_access=read_access, cache=cache, namespace=namespace))
    return _EncodedSlashes(app)


def _json(document: Any) -> Response:
    """Serialize with orjson: lineage graphs run to thousands of nodes, too many for FastAPI's encoder."""
    return Response(orjson.dumps(document), media_type="application/json")


def checked_search_term(term: str) -> str:
    """Refuse search terms with SQL metacharacters: names never contain them and they signal an injection."""
    if not _SEARCH_TERM.fullmatch(term) or "--" in term:
        bad = sorted({ch for ch in term if not _SEARCH_TERM.fullmatch(ch)} | ({"--"} if "--" in term else set()))
        raise ApiError(
            400,
            f"search term {term!r} contains {' '.join(bad)}: only letters, digits, spaces and . _ - : / % * @ + "
            "are allowed",
        )
    return term


MAX_JSON_DEPTH = 64
"""OpenLineage events nest about ten levels deep; deeper bodies are refused before anything walks them."""


def _parse_json(body: bytes) -> Any:
    """The body as JSON, refused (400) when it is not JSON or nests deeper than MAX_JSON_DEPTH."""
    try:
        document = orjson.loads(body)  # iterative past its own limit of 1024 levels: no RecursionError
    except orjson.JSONDecodeError as error:
        raise ApiError(400, f"the body is not valid JSON: {error}") from None
    level, depth = [document], 1
    while level:
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, f"the body nests deeper than {MAX_JSON_DEPTH} levels")
        level = [
            child
            for value in level
            if isinstance(value, dict | list)
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
        depth += 1
    return document


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused past `limit` bytes (before and after gzip/deflate decoding)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is {int(declared)} bytes; this catalog accepts at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body exceeds {limit} bytes, the most this catalog accepts")
        chunks.append(chunk)
    body = b"".join(chunks)
    decoders: dict[str, Callable[[bytes], bytes]] = {
        "gzip": lambda data: _bounded(zlib.decompressobj(16 + zlib.MAX_WBITS), data, limit),
        "deflate": lambda data: _bounded(zlib.decompressobj(), data, limit),
    }
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding in decoders:
        try:
            body = decoders[encoding](body)
        except zlib.error as error:
            raise ApiError(400, f"the body is not valid {encoding} data: {error}") from None
    elif encoding != "identity":
        raise ApiError(415, f"unsupported Content-Encoding {encoding!r}; send identity, gzip or deflate")
    return body


def _bounded(decoder: Any, data: bytes, limit: int) -> bytes:
    out = decoder.decompress(data, limit + 1)
    if len(out) > limit:
        raise ApiError(413, f"the decompressed body exceeds {limit} bytes, the most this catalog accepts")
    return out
