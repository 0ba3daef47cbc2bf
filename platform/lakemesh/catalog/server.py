"""Serving the catalog with uvicorn (`lakemesh catalog serve`), holding its connections to account.

uvicorn waits for ever for a client that sends its request slowly: a few
hundred connections trickling a header each would hold the server. Here each
request (its headers and its body) must arrive within `request_timeout`
seconds of the connection or of the previous response, or the connection is
closed; idle keep-alive connections close after a few seconds; and past
`max_connections` at once, uvicorn answers 503 instead of queueing without end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lakemesh.catalog.access import WriteScope
from lakemesh.catalog.api import DEFAULT_MAX_BODY_BYTES, create_app
from lakemesh.catalog.store import Catalog

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_REQUEST_TIMEOUT", "serve", "server_config"]

DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 2048
_KEEP_ALIVE_SECONDS = 5


class _RequestDeadline(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline on reading each request, headers and body."""

    def __init__(self, *args: Any, request_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = request_timeout
        self._deadline: Any = None
        self._request_read = False

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._request_read = False
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._request_read = True
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has its own deadline

    def _arm(self) -> None:
        self._disarm()
        self._request_read = False
        self._deadline = self.loop.call_later(self.request_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self._request_read and not self.transport.is_closing():
            self.transport.close()


def server_config(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    log_level: str = "info",
) -> uvicorn.Config:
    """uvicorn's configuration for the catalog: request deadline, keep-alive and connection bound."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        http=partial(_RequestDeadline, request_timeout=request_timeout),  # type: ignore[arg-type]
        timeout_keep_alive=_KEEP_ALIVE_SECONDS,
        limit_concurrency=max_connections,
        backlog=max_connections,
    )


def serve(
    catalog_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    token: str | None = None,
    write_scopes: Sequence[WriteScope] = (),
    protect_reads: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    namespace: str | None = None,
    storage_options: Mapping[str, str] | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    log_level: str = "info",
) -> None:
    """Run the catalog's HTTP server until interrupted; the schema is migrated before it listens.

    `storage_options` read the products' Delta logs, which confirm the product versions events claim.
    """
    app = create_app(
        Catalog(catalog_url, storage_options=storage_options),
        token=token,
        write_scopes=write_scopes,
        protect_reads=protect_reads,
        max_body_bytes=max_body_bytes,
        namespace=namespace,
    )
    config = server_config(
        app,
        host=host,
        port=port,
        request_timeout=request_timeout,
        max_connections=max_connections,
        log_level=log_level,
    )
    uvicorn.Server(config).run()
