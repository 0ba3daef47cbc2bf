"""Storage: Delta I/O with exactly-once commits, the quarantine, the landing zone, maintenance, the reader."""

from lakemesh.storage.delta import (
    Committed,
    StepTransaction,
    commit_metadata,
    committed_version,
    current_version,
    last_published_contract,
    open_table,
    published_fields,
    read_table,
    rows_written,
    write_table,
)
from lakemesh.storage.maintenance import Maintenance, maintain_table
from lakemesh.storage.quarantine import write_quarantine
from lakemesh.storage.reader import read

__all__ = [
    "Committed",
    "Maintenance",
    "StepTransaction",
    "commit_metadata",
    "committed_version",
    "current_version",
    "last_published_contract",
    "maintain_table",
    "open_table",
    "published_fields",
    "read",
    "read_table",
    "rows_written",
    "write_quarantine",
    "write_table",
]
