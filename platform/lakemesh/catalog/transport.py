"""An OpenLineage client transport that stores events in the embedded catalog (SQLite file or database URL).

It is chosen by configuration like any client transport, by its class name as
the transport `type`: `lakemesh.lineage.lineage_client` names it when no
standard OpenLineage configuration is present, and an `openlineage.yml` may
name it too (`type: lakemesh.catalog.transport.CatalogTransport`, `url: ...`).
Lineage thereby never imports the catalog, which sits above it.
"""

from __future__ import annotations

from typing import Any

import attr
from openlineage.client.transport.transport import Config, Transport

from lakemesh.catalog.store import Catalog
from lakemesh.settings import Settings

__all__ = ["CatalogTransport", "CatalogTransportConfig"]


@attr.define
class CatalogTransportConfig(Config):
    """Which catalog to write to: a SQLite path or a database URL (default: the settings' catalog), and the
    storage options that read the products' Delta logs (the settings')."""

    url: str = ""
    storage_options: dict[str, str] = attr.field(factory=dict)

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> CatalogTransportConfig:
        settings = Settings.from_env()
        return cls(url=params.get("url") or settings.catalog_url, storage_options=dict(settings.storage_options))


class CatalogTransport(Transport):
    """Delivers events into the embedded catalog."""

    kind = "lakemesh"
    config_class = CatalogTransportConfig

    def __init__(self, config: CatalogTransportConfig) -> None:
        self.config = config

    def emit(self, event: Any) -> None:
        Catalog(self.config.url, storage_options=self.config.storage_options).ingest(event)
