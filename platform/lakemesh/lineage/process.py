"""Which process runs a platform run, recorded on its START: a run whose process is gone is over.

Reconcile closes at once a run that started on this host in a process that no
longer exists (killed), instead of waiting for it to go stale.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

import attr
from openlineage.client.facet_v2 import RunFacet

from lakemesh.lineage.naming import PLATFORM_PRODUCER

__all__ = ["PROCESS_FACET", "ProcessRunFacet", "run_process"]

PROCESS_FACET = "lakemeshProcess"


@attr.define
class ProcessRunFacet(RunFacet):
    """The host and process id of the process that runs a platform run."""

    host: str
    pid: int

    @classmethod
    def here(cls) -> ProcessRunFacet:
        return cls(host=socket.gethostname(), pid=os.getpid())

    @staticmethod
    def _get_schema() -> str:
        return f"{PLATFORM_PRODUCER}/spec/ProcessRunFacet.json"


def run_process(facets: Mapping[str, Any] | None) -> tuple[str, int] | None:
    """(host, pid) a run's facets record, if they record one the platform wrote."""
    found = (facets or {}).get(PROCESS_FACET)
    if not isinstance(found, Mapping):
        return None
    host, pid = found.get("host"), found.get("pid")
    return (host, pid) if isinstance(host, str) and isinstance(pid, int) and not isinstance(pid, bool) else None
