"""Serving the catalog with uvicorn (`lakemesh catalog serve`)."""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn

from lakemesh.catalog.access import WriteScope
from lakemesh.catalog.api import DEFAULT_MAX_BODY_BYTES, create_app
from lakemesh.catalog.store import Catalog

__all__ = ["serve"]


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
    log_level: str = "info",
) -> None:
    """Run the catalog's HTTP server until interrupted; the schema is migrated before it listens."""
    app = create_app(
        Catalog(catalog_url),
        token=token,
        write_scopes=write_scopes,
        protect_reads=protect_reads,
        max_body_bytes=max_body_bytes,
        namespace=namespace,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False)
