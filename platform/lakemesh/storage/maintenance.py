"""Bounded storage: checkpoint, compact small files, vacuum beyond the retention, remove orphans.

A version stays readable (time travel) while it is younger than the contract's
retention or among its newest `retainVersions`; files only older versions
need are vacuumed. Files no commit references (left by a failed or conflicting
commit) are removed once older than a grace period, so a concurrent writer's
files in flight are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from lakemesh.errors import CommitConflict, ProductNotFound
from lakemesh.settings import Settings
from lakemesh.storage.delta import TABLE_PROPERTIES, open_table

if TYPE_CHECKING:
    from lakemesh.contracts import Contract

__all__ = ["ORPHAN_GRACE_HOURS", "Maintenance", "maintain_products", "maintain_table"]

ORPHAN_GRACE_HOURS = 1
"""An unreferenced file younger than this may belong to a commit in flight: it is left alone."""


@dataclass(frozen=True, kw_only=True)
class Maintenance:
    """What one maintenance pass did to one table."""

    uri: str
    version: int
    oldest_kept: int
    compacted_files: int
    removed_files: int


def _oldest_kept(table: DeltaTable, *, retention_hours: float, retain_versions: int) -> int:
    """The oldest version that must stay readable."""
    latest = table.version()
    by_count = max(0, latest - retain_versions + 1)
    cutoff_ms = (time.time() - retention_hours * 3600) * 1000
    young = [c["version"] for c in table.history() if c["timestamp"] >= cutoff_ms]
    return min([by_count, *young])


def maintain_table(
    uri: str,
    *,
    retention_hours: float,
    retain_versions: int,
    orphan_grace_hours: float = ORPHAN_GRACE_HOURS,
    storage_options: Mapping[str, str] | None = None,
) -> Maintenance:
    """Compact, checkpoint and vacuum one table, keeping every version inside the retention readable."""
    table = open_table(uri, storage_options=storage_options)
    oldest = _oldest_kept(table, retention_hours=retention_hours, retain_versions=retain_versions)
    try:
        if table.metadata().configuration.get("delta.enableExpiredLogCleanup") != "false":
            table.alter.set_table_properties(TABLE_PROPERTIES)  # tables written before the log was kept whole
        compacted = int(table.optimize.compact().get("numFilesRemoved", 0))
        table.create_checkpoint()
        removed = table.vacuum(
            retention_hours=orphan_grace_hours,
            dry_run=False,
            enforce_retention_duration=False,
            full=True,
            keep_versions=list(range(oldest, table.version() + 1)),
        )
    except CommitFailedError as error:
        raise CommitConflict(f"{uri}: maintenance lost to a concurrent writer; run it again: {error}") from None
    return Maintenance(
        uri=uri, version=table.version(), oldest_kept=oldest, compacted_files=compacted, removed_files=len(removed)
    )


def maintain_products(contracts: Iterable[Contract], *, settings: Settings) -> list[Maintenance]:
    """Maintain every published product (and its quarantine) of `contracts`; unpublished ones are skipped."""
    done = []
    for contract in contracts:
        for uri in (settings.table_uri(contract.name), settings.quarantine_uri(contract.name)):
            try:
                done.append(
                    maintain_table(
                        uri,
                        retention_hours=contract.retention_hours,
                        retain_versions=contract.retain_versions,
                        storage_options=settings.storage_options,
                    )
                )
            except ProductNotFound:
                continue
    return done
