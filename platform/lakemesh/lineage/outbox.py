"""The outbox: lineage events that could not be delivered wait here, in order, until they can.

Delta is the truth and publishing never waits for the catalog: an event whose
transport fails is written to a file (atomically: temp file, then rename) and
delivered, oldest first, before the next event and by `lakemesh catalog sync`.
One process delivers at a time (an advisory lock), so no event is sent twice
by two deliverers.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Delivery", "Outbox"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """What one delivery pass did: events sent, events still waiting, and the error that stopped it."""

    delivered: int
    waiting: int
    error: str | None


class Outbox:
    """A folder of pending OpenLineage events (JSON), delivered in the order they were written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def pending(self) -> list[Path]:
        return sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []

    def put(self, event: dict[str, Any]) -> Path:
        """Keep one event durably; names sort by time of writing."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(event, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.rename(path)
        return path

    def deliver(self, send: Callable[[dict[str, Any]], None]) -> Delivery:
        """Send pending events oldest first, stopping at the first failure; skip if another process delivers."""
        if not self.pending():
            return Delivery(delivered=0, waiting=0, error=None)
        with (self.folder / ".lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return Delivery(delivered=0, waiting=len(self.pending()), error="another process is delivering")
            delivered = 0
            for path in self.pending():
                try:
                    send(json.loads(path.read_text(encoding="utf-8")))
                except Exception as error:  # any transport failure: keep the event, report why
                    log.warning("lineage outbox: %s stays pending: %s", path.name, error)
                    return Delivery(delivered=delivered, waiting=len(self.pending()), error=str(error))
                path.unlink()
                delivered += 1
            return Delivery(delivered=delivered, waiting=0, error=None)
