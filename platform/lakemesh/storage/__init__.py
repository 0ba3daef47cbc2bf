"""Storage: Delta I/O with exactly-once commits, the commit record, the quarantine, landing, maintenance, the reader."""

from lakemesh.storage.commit import (
    CommitRequest,
    Committed,
    PublishCommit,
    StepTransaction,
    published_fields,
    rows_written,
)
from lakemesh.storage.delta import (
    committed_version,
    current_version,
    last_published_contract,
    open_table,
    read_table,
    write_table,
)
from lakemesh.storage.maintenance import Maintenance, maintain_products, maintain_table
from lakemesh.storage.quarantine import write_quarantine
from lakemesh.storage.reader import read

__all__ = [
    "CommitRequest",
    "Committed",
    "Maintenance",
    "PublishCommit",
    "StepTransaction",
    "committed_version",
    "current_version",
    "last_published_contract",
    "maintain_products",
    "maintain_table",
    "open_table",
    "published_fields",
    "read",
    "read_table",
    "rows_written",
    "write_quarantine",
    "write_table",
]
