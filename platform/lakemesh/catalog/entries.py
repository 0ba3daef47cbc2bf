"""What the catalog answers with: a product's entry and its versions, a run still open, a product as Delta has it.

Plain records, so the CLI, the pages and reconcile read them without the store's SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["RETIRED_FACET", "DeltaState", "OpenRun", "ProductEntry", "VersionEntry"]

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
