"""The gate in front of every commit: the contract judges the batch, and a breaking contract change is refused.

The gate runs before anything is written. A refused batch leaves the current
Delta version untouched and its failing rows in the domain's quarantine; a
contract change that breaks the product's readers is refused unless its major
version went up. A batch judged against one version and committed on a newer
one (a concurrent writer) is judged again against that one first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deltalake import DeltaTable

from lakemesh.contracts import Contract
from lakemesh.contracts.compatibility import ContractChange, breaking_changes
from lakemesh.errors import BreakingChange, CommitConflict, ProductNotFound, first_line, in_one_line
from lakemesh.lineage import PublishLineage
from lakemesh.producers.batches import Batch, TableSide
from lakemesh.quality import ContractViolation, ValidationReport, as_polars, validate
from lakemesh.settings import Settings
from lakemesh.storage.commit import PartitionWindow
from lakemesh.storage.delta import current_version, last_published_contract, read_table, rows_outside

__all__ = ["Gate", "judge_published", "schema_gate"]


@dataclass(frozen=True, kw_only=True)
class Gate:
    """The contract's verdict on one batch of one publish, before its commit and on every version it lands on."""

    batch: Batch
    contract: Contract
    settings: Settings
    lineage: PublishLineage
    run_id: str
    replace_schema: bool
    """The contract is a new major version: the table's schema and content are replaced."""
    partition: PartitionWindow | None = None
    """The one time partition the batch replaces, if it is one."""

    @property
    def keyed_append(self) -> bool:
        """Its keys are judged against the table's (a new major version starts over): an append under a primary key,
        or one partition of a product with a primary key, whose keys are unique across partitions."""
        if not self.contract.primary_key or self.replace_schema:
            return False
        return self.contract.write_mode == "append" or self.partition is not None

    def judge(self, against: DeltaTable | None) -> ValidationReport:
        """The batch's report against the table as it is (a partition's table-wide guarantees, its keys' uniqueness
        and a row count, judge the table as the commit leaves it); a failing batch is quarantined and refused."""
        kept = 0  # a new major version replaces the whole table: it keeps nothing
        if against is not None and self.partition is not None and not self.replace_schema:
            kept = rows_outside(against, self.partition)
        table = TableSide(table=against, keyed_append=self.keyed_append, replaced=self.partition, kept_rows=kept)
        verdict = self.batch.judge(self.contract, table=table)
        if not verdict.passed:
            raise self.refuse(verdict, table=against)
        return verdict

    def recheck(self, against: DeltaTable) -> None:
        """Before committing on a version the gate did not see: the same schema decision, the same keys."""
        if schema_gate(against, self.contract, self.settings) != self.replace_schema:
            raise CommitConflict(
                f"{self.settings.table_uri(self.contract.name)}: a concurrent writer published under another "
                "contract version; nothing was written"
            )
        if self.keyed_append or self.partition is not None:  # the table-wide guarantees, on the table it lands on
            self.judge(against)

    def refuse(self, report: ValidationReport, *, table: DeltaTable | None) -> ContractViolation:
        """Quarantine the failing rows and say why; a quarantine that cannot be written never hides the refusal."""
        quarantine = self.settings.quarantine_uri(self.contract.name)
        try:
            self.batch.quarantine(report, quarantine, run_id=self.run_id, settings=self.settings)
            failure = None
        except Exception as error:  # any storage error: report it inside the refusal
            failure = in_one_line(error)
        violation = ContractViolation(
            report,
            kept_version=table.version() if table is not None else None,
            quarantine=quarantine,
            quarantine_error=failure,
        )
        self.lineage.fail(str(violation), assertions=report.outcome(), quarantined=failure is None)
        return violation


def schema_gate(table: DeltaTable | None, contract: Contract, settings: Settings) -> bool:
    """Refuse a breaking contract change without a new major version; True when the schema is to be replaced."""
    previous = last_published_contract(table) if table is not None else None
    if previous is None or previous == contract.document.model_dump(mode="json", exclude_none=True, by_alias=True):
        return False
    changes = breaking_changes(previous, contract)
    if not changes:
        return False
    old_major = int(str(previous.get("version", "0")).split(".")[0])
    if contract.major_version > old_major:
        return True
    readers = _readers(contract, changes, settings)
    lines = [
        f"{contract.name}: contract v{contract.version} breaks the published v{previous.get('version')} without a "
        "new major version; nothing was written",
        f"Contract: {contract.path}",
        "Breaking changes:",
        *(f"  - {c.message}" + ("" if c.path in c.message else f" ({c.path})") for c in changes),
        "Readers affected: " + ("; ".join(readers) if readers else "none known to the catalog"),
        f"Raise the major version (to {old_major + 1}.0.0) once the readers are ready, or make the change additive.",
    ]
    raise BreakingChange("\n".join(lines))


def _readers(contract: Contract, changes: Sequence[ContractChange], settings: Settings) -> list[str]:
    """Every downstream product, domain and owner reading a changed column, as the catalog knows them."""
    from lakemesh.catalog import Catalog, NotFound, impact

    try:
        catalog = Catalog(settings.catalog_url)
        found = {}
        for column in sorted({c.column for c in changes}, key=lambda c: c or ""):
            try:
                affected = impact(catalog, contract.name, column=column, namespace=settings.namespace)
            except NotFound:  # a column the catalog has not seen: then every reader of the product counts
                affected = impact(catalog, contract.name, namespace=settings.namespace)
            for entry in affected:
                read = f"{column} (indirectly)" if entry.indirect else column
                found.setdefault(entry.name, (entry.domain, entry.owner, set()))[2].add(read or "*")
    except NotFound:
        return []
    except Exception as error:  # the catalog is down: the change is refused all the same
        return [f"(readers unknown: the catalog could not be read: {first_line(error)})"]
    return [
        f"{name} (domain {domain}, owner {owner or 'unknown'}; reads {', '.join(sorted(columns))})"
        for name, (domain, owner, columns) in sorted(found.items())
    ]


def judge_published(contract: Contract, *, settings: Settings) -> tuple[int, ValidationReport]:
    """The contract's checks on the product's current published version (and that version): nothing is written."""
    uri = settings.table_uri(contract.name)
    version = current_version(uri, storage_options=settings.storage_options)
    if version is None:
        raise ProductNotFound(f"{contract.name} has never been published: there is nothing to check yet")
    frame = read_table(uri, version=version, storage_options=settings.storage_options).collect()
    return version, validate(as_polars(frame, contract.plan), contract)
