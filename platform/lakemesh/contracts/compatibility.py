"""Is a new contract compatible with the one the product was last published under?

The comparison itself is `datacontract-cli`'s breaking-change detector for ODCS
(a field-by-field changelog graded by rules). A change is breaking here when it
breaks either side: consumers (a column removed or retyped, a guarantee
dropped) or the published data (a type narrowed, `required` added, allowed
values narrowed, a range tightened, the primary key changed). Adding a column
is the one tightening that is not breaking: tables evolve to take it. Access
narrowed (public -> internal -> private) and time partitions changed (their
column or grain, or partitions added or dropped: what a partition holds
changes for every reader) are the platform's own rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakemesh.contracts.model import Contract

__all__ = ["ContractChange", "breaking_changes"]

_ACCESS_ORDER = ("private", "internal", "public")
_ADDITIVE_RULES = ("property-added-or-removed", "schema-added-or-removed")


@dataclass(frozen=True, kw_only=True)
class ContractChange:
    """One breaking difference: where in the contract, what changed, and the column it touches."""

    path: str
    message: str
    column: str | None


def _column(path: str) -> str | None:
    """`schema.<table>.properties.<column>...` -> `<column>`."""
    parts = path.split(".")
    return parts[3] if len(parts) > 3 and parts[0] == "schema" and parts[2] == "properties" else None


def _partitioned_by(document: dict[str, Any]) -> tuple[str, str] | None:
    """(column, grain) of the time partitions an ODCS document (as kept with a published version) declares."""
    for table in document.get("schema") or []:
        for prop in table.get("properties") or []:
            if prop.get("partitioned"):
                custom = {p.get("property"): p.get("value") for p in prop.get("customProperties") or []}
                return prop.get("name"), custom.get("partitionGrain")
    return None


def _partitions(declared: tuple[str, str] | None) -> str:
    return f"{declared[1]} partitions of {declared[0]}" if declared else "none"


def breaking_changes(previous: dict[str, Any], current: Contract) -> list[ContractChange]:
    """The breaking changes from `previous` (an ODCS document as kept with a published version) to `current`."""
    from datacontract.data_contract import DataContract  # a few seconds to import: only when a contract changed
    from datacontract.model.breaking import BreakingChangeLevel, Perspective
    from datacontract.model.changelog import ChangelogType
    from open_data_contract_standard.model import OpenDataContractStandard

    before = DataContract(data_contract=OpenDataContractStandard(**previous))
    after = DataContract(data_contract=current.document)
    found: dict[str, ContractChange] = {}
    for perspective in (Perspective.CONSUMER, Perspective.PRODUCER):
        for entry in before.breaking(after, perspective=perspective).entries:
            additive = entry.rule_id in _ADDITIVE_RULES and entry.change_type == ChangelogType.added
            if entry.level == BreakingChangeLevel.ERROR and not additive:
                found.setdefault(entry.path, ContractChange(path=entry.path, message=entry.message,
                                                            column=_column(entry.path)))  # fmt: skip
    old_access = next((p.get("value") for p in previous.get("customProperties") or [] if p.get("property") == "access"),
                      "internal")  # fmt: skip
    new_partitions = (current.partitioning.column, current.partitioning.grain) if current.partitioning else None
    if (old_partitions := _partitioned_by(previous)) != new_partitions:
        found["partitioning"] = ContractChange(
            path="partitioning",
            message=f"partitioning changed from {_partitions(old_partitions)} to {_partitions(new_partitions)} "
            "(the new major version is published whole, then by partition)",
            column=None,
        )
    if old_access in _ACCESS_ORDER and _ACCESS_ORDER.index(current.access) < _ACCESS_ORDER.index(old_access):
        found["customProperties.access"] = ContractChange(
            path="customProperties.access",
            message=f"access narrowed from {old_access} to {current.access}",
            column=None,
        )
    return sorted(found.values(), key=lambda change: change.path)
