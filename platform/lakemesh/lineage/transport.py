"""Where lineage events go: the embedded catalog by default, any OpenLineage transport by configuration.

The default is the catalog's own client transport, named by its class
(`lakemesh.catalog.transport.CatalogTransport`) as openlineage-python's
transport factory allows, so lineage never imports the catalog above it.
Setting the standard OpenLineage configuration (`OPENLINEAGE_URL`,
`OPENLINEAGE_CONFIG`, `OPENLINEAGE__TRANSPORT__*`, or an `openlineage.yml`)
sends events wherever it says instead. `LineageEmitter` never lets a transport
failure reach the publish: the event waits in the outbox.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde

from lakemesh.lineage.outbox import Delivery, Outbox
from lakemesh.lineage.validation import InvalidEvent
from lakemesh.settings import Settings

__all__ = ["CATALOG_TRANSPORT", "LineageEmitter", "lineage_client"]

log = logging.getLogger(__name__)
_STANDARD_ENV = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED", "OPENLINEAGE__TRANSPORT__TYPE")

CATALOG_TRANSPORT = "lakemesh.catalog.transport.CatalogTransport"
"""The transport `type` of the embedded catalog: a class name the client's transport factory imports."""


def _standard_config_present() -> bool:
    if any(os.environ.get(name) for name in _STANDARD_ENV):
        return True
    return any(p.is_file() for p in (Path.cwd() / "openlineage.yml", Path.home() / ".openlineage" / "openlineage.yml"))


def lineage_client(settings: Settings) -> OpenLineageClient:
    """The standard client: the embedded catalog unless OpenLineage is configured otherwise."""
    if _standard_config_present():
        return OpenLineageClient()
    return OpenLineageClient(config={"transport": {"type": CATALOG_TRANSPORT, "url": settings.catalog_url}})


class LineageEmitter:
    """Sends events through the client, in order; what cannot be sent waits in the outbox."""

    def __init__(self, client: OpenLineageClient, outbox: Outbox) -> None:
        self.client = client
        self.outbox = outbox

    @classmethod
    def for_settings(cls, settings: Settings) -> LineageEmitter:
        return cls(lineage_client(settings), Outbox(settings.outbox_dir))

    def flush(self) -> Delivery:
        """Deliver what waits in the outbox, oldest first."""
        return self.outbox.deliver(self.client.transport.emit)

    def forward(self, event: dict[str, Any]) -> bool:
        """Send another producer's event (a JSON object) the same way as the platform's own: `emit`, except that
        one the embedded catalog refuses (`InvalidEvent`) is raised to the caller, not kept: it would never pass."""
        return self._send(event, as_dict=event, send=self.client.transport.emit, refused_raise=True)

    def emit(self, event: Any) -> bool:
        """Send one event after any older ones; True if it was delivered, False if it waits in the outbox.

        Never raises: lineage must not decide a publish. An event that can be
        neither sent nor kept (the outbox's disk fails too) is logged as lost:
        the Delta commit, the truth, stands either way.
        """
        return self._send(event, as_dict=None, send=self.client.emit, refused_raise=False)

    def _send(
        self, event: Any, *, as_dict: dict[str, Any] | None, send: Callable[[Any], Any], refused_raise: bool
    ) -> bool:
        try:
            if self.flush().waiting == 0:
                try:
                    send(event)
                    return True
                except Exception as error:  # any transport failure: keep the event
                    if refused_raise and isinstance(error, InvalidEvent):
                        raise
                    log.warning("lineage event kept in the outbox %s: %s", self.outbox.folder, error)
            self.outbox.put(as_dict if as_dict is not None else Serde.to_dict(event))
        except OSError as error:
            log.error("lineage event lost (neither delivered nor kept in %s): %s", self.outbox.folder, error)
        return False
