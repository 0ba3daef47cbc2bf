"""What the catalog answers with: a product's entry and its versions, a run still open, a product as Delta has it.

Plain records, so the CLI, the pages and reconcile read them without the store's SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lakemesh.contracts.partitioning import GRAINS, Partitioning

__all__ = [
    "RETIRED_FACET",
    "DeltaState",
    "OpenRun",
    "PartitionEntry",
    "ProductEntry",
    "VersionEntry",
    "current_partitions",
]

RETIRED_FACET = "lakemeshRetired"
"""Kept in a product's facets once its contract is gone from the project: `{"since": <ISO time>}`."""


@dataclass(frozen=True, kw_only=True)
class OpenRun:
    """A run the catalog has seen start and not end."""

    run_id: str
    job: str
    parent_run_id: str | None
    since: datetime
    process: tuple[str, int] | None = None
    """(host, pid) of the process that runs it, when the platform recorded it."""


@dataclass(frozen=True, kw_only=True)
class DeltaState:
    """A product as its Delta log has it: the versions its publishes committed, and what describes the latest."""

    versions: frozenset[str]
    latest: str | None
    """The latest version (None when Delta has none)."""
    described: Mapping[str, Any]
    """The latest version's descriptive columns: fields, owner, description, contract."""
    at: datetime | None
    """When the latest version was committed."""


@dataclass(frozen=True, kw_only=True)
class VersionEntry:
    """One version of a dataset and the run that wrote it."""

    version: str
    created_at: datetime
    run_id: str
    run_state: str | None
    row_count: int | None


@dataclass(frozen=True, kw_only=True)
class PartitionEntry:
    """Partitions of a product (`first` through `last`, keys as its contract writes them) whose rows one version
    wrote and no later version replaced; `first` None: every partition not listed (a whole-table version)."""

    first: str | None
    last: str | None
    version: str
    created_at: datetime


def _grain_of(key: str) -> Partitioning:
    """The partitioning a key is written in (`1995`, `1995-06`, `1995-06-30`): its grain tells by its length."""
    grain = GRAINS[{10: 0, 7: 1, 4: 2}[len(key)]]
    return Partitioning(column="", grain=grain, start=date.min)


def current_partitions(versions: Sequence[tuple[str, str | None, datetime]]) -> list[PartitionEntry]:
    """Which version holds each partition: from `versions` (version, the partition key or `first...last` range its
    commit replaced, "" for a whole table or None when not known, when), oldest first; in partition order, a
    whole-table version's rest last. A version whose partitions are not known shows nowhere, nor do older ones."""
    taken: list[tuple[date, date]] = []  # days newer versions replaced
    found: list[tuple[date, PartitionEntry]] = []
    for version, partition, at in reversed(versions):
        if partition is None:  # not known (recorded before the catalog kept partitions): nothing older is sure
            break
        if partition == "":  # everything not replaced since
            found.append((date.max, PartitionEntry(first=None, last=None, version=version, created_at=at)))
            break
        first_key, _, last_key = partition.partition("...")
        try:
            grain = _grain_of(first_key)
            first, end = grain.span(first_key, last_key or first_key)
        except (KeyError, ValueError):  # a key the platform does not write: nothing to show
            continue
        for start, stop in _uncovered((first, end), taken):
            last_day = stop - timedelta(days=1)
            entry = PartitionEntry(
                first=grain.key_of(start), last=grain.key_of(last_day), version=version, created_at=at
            )
            found.append((start, entry))
        taken.append((first, end))
    return [entry for _, entry in sorted(found, key=lambda item: item[0])]


def _uncovered(days: tuple[date, date], taken: Sequence[tuple[date, date]]) -> list[tuple[date, date]]:
    """The parts of `days` (`[first, end)`) that none of `taken` covers."""
    pieces = [days]
    for first, end in taken:
        pieces = [
            piece
            for start, stop in pieces
            for piece in ((start, min(stop, first)), (max(start, end), stop))
            if piece[0] < piece[1]
        ]
    return pieces


@dataclass(frozen=True, kw_only=True)
class ProductEntry:
    """What the catalog knows of one dataset, for the CLI and the product page."""

    namespace: str
    name: str
    description: str | None
    owner: str | None
    contract: Mapping[str, Any]
    fields: list[dict[str, Any]]
    current_version: str | None
    updated_at: datetime | None
    versions: list[VersionEntry]
    last_run: dict[str, Any] | None
    checks: dict[str, bool]
    retired: str | None = None
    """When its contract was found gone (ISO time): published no more, its versions still readable."""
    partitions: list[PartitionEntry] = field(default_factory=list)
    """For a partitioned product: which version holds each of its partitions (empty for one without)."""

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def freshness_hours(self) -> float | None:
        return self.contract.get("freshnessHours")

    def age_hours(self, now: datetime | None = None) -> float | None:
        """Hours since the current version was written."""
        if self.updated_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.updated_at).total_seconds() / 3600

    def is_fresh(self, now: datetime | None = None) -> bool | None:
        """Whether the current version is within the contract's freshness SLA (None when there is no SLA)."""
        age = self.age_hours(now)
        if self.freshness_hours is None or age is None:
            return None if self.freshness_hours is None else False
        return age <= self.freshness_hours
