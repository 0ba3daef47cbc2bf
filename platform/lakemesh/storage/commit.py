"""What a product commit is: the platform's record in the Delta log, and how one publish asks for a commit.

Every version the platform writes carries a `PublishCommit` in its commit info:
the producing step (its Delta application transaction), the run, the contract
it was judged by, the code version and the Delta version of every input read.
deltalake stores the fields as keys of the commit's info; Spark, which has no
such option, as one JSON object in the commit's `userMetadata`.
`PublishCommit.read` takes either, so the schema gate, the retry check, the
catalog's reconcile and the quarantine all read and write commits through this
one type, and the keys below appear nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from lakemesh.contracts.partitioning import Partitioning

__all__ = [
    "APP_ID_KEY",
    "CONTRACT_KEY",
    "CommitRequest",
    "Committed",
    "PartitionWindow",
    "PublishCommit",
    "StepTransaction",
    "published_fields",
    "rows_written",
]

APP_ID_KEY = "lakemesh.appId"
CONTRACT_KEY = "lakemesh.contract"
_PREFIX = "lakemesh."
_KEYS = {
    "run_id": "lakemesh.runId",
    "app_id": APP_ID_KEY,
    "contract_id": "lakemesh.contractId",
    "contract_version": "lakemesh.contractVersion",
    "contract": CONTRACT_KEY,
    "code_version": "lakemesh.codeVersion",
    "inputs": "lakemesh.inputs",
    "partition": "lakemesh.partition",
}
"""Each field of `PublishCommit` and its key in the commit info."""


@dataclass(frozen=True, kw_only=True)
class PublishCommit:
    """The platform's fields of one commit; a field left None is not written (a quarantine commit has the run only)."""

    run_id: str | None = None
    """The Dagster run (or any caller's run id) that published the version."""
    app_id: str | None = None
    """The producing step's Delta application transaction: `lakemesh/<product>/<run id>/<step>`."""
    contract_id: str | None = None
    contract_version: str | None = None
    contract: str | None = None
    """The whole ODCS document the batch was judged by, as JSON: the schema gate compares the next one with it."""
    code_version: str | None = None
    inputs: Mapping[str, int] | None = None
    """The Delta version of every upstream product read."""
    partition: str | None = None
    """The time partition the commit replaced (its key), when it replaced one partition only."""

    def metadata(self) -> dict[str, str]:
        """The fields as commit-info keys (`lakemesh.runId`, ...), the inputs as JSON sorted by product."""
        written = {}
        for name, key in _KEYS.items():
            value = getattr(self, name)
            if value is not None:
                written[key] = json.dumps(dict(sorted(value.items()))) if name == "inputs" else value
        return written

    @classmethod
    def read(cls, commit: Mapping[str, object]) -> PublishCommit | None:
        """The record of one history entry (deltalake's or Spark's), or None when the platform did not write it."""
        found = published_fields(commit)
        if not found:
            return None
        values: dict[str, Any] = {name: found.get(key) for name, key in _KEYS.items()}
        values["inputs"] = _inputs(values["inputs"])
        return cls(**values)

    @property
    def of_publish(self) -> bool:
        """Whether a publish wrote it (a step and a contract), not a maintenance or quarantine commit."""
        return self.app_id is not None and self.contract is not None

    def contract_document(self) -> dict[str, Any] | None:
        """The ODCS document the version was published under."""
        return json.loads(self.contract) if self.contract else None


def _inputs(text: str | None) -> dict[str, int] | None:
    """The inputs field as written, or None when it is missing or not the platform's shape (never an error: one
    foreign or damaged commit must not stop the retry check, the schema gate or reconcile on the whole log)."""
    try:
        found = json.loads(text) if text is not None else None
        return {str(product): int(version) for product, version in found.items()} if isinstance(found, dict) else None
    except (ValueError, TypeError):
        return None


def published_fields(commit: Mapping[str, object]) -> dict[str, str]:
    """The platform's raw fields of one commit (`lakemesh.*`), whichever engine wrote it."""
    found = {k: v for k, v in commit.items() if k.startswith(_PREFIX) and isinstance(v, str)}
    text = commit.get("userMetadata")
    if isinstance(text, str) and text.startswith("{"):
        try:
            spark_written = json.loads(text)
        except json.JSONDecodeError:
            spark_written = {}  # someone else's metadata: not the platform's
        if isinstance(spark_written, dict):
            found |= {k: v for k, v in spark_written.items() if k.startswith(_PREFIX) and isinstance(v, str)}
    return found


def rows_written(commit: Mapping[str, object]) -> int | None:
    """Rows a commit wrote, from its operation metrics (deltalake's or Spark's names)."""
    metrics = commit.get("operationMetrics") or {}
    for key in ("num_added_rows", "num_source_rows", "numSourceRows", "numOutputRows"):  # a MERGE: its source
        if key in metrics:
            return int(metrics[key])
    return None


@dataclass(frozen=True, kw_only=True)
class StepTransaction:
    """The Delta application transaction of one publish: the producing step, and its sequence in that step."""

    app_id: str
    sequence: int = 0


@dataclass(frozen=True, kw_only=True)
class Committed:
    """The version a publish committed, and whether an earlier attempt of the same step had committed it."""

    version: int
    duplicate: bool


@dataclass(frozen=True, kw_only=True)
class PartitionWindow:
    """One time partition a commit replaces: its key, and its rows (`column` from `first` up to, not including,
    `end`). The table is not partitioned on disk by it: the commit replaces the rows the predicate selects, and the
    files' statistics of `column` let it touch only the files that hold them."""

    key: str
    column: str
    first: date
    end: date

    @classmethod
    def of(cls, partitioning: Partitioning, partitions: tuple[str, str] | None) -> PartitionWindow:
        """The partitions from the first key of `partitions` through the last (keyed `first...last`, or `first`
        alone); every partition for None (a whole build). Raises `ValueError` for a key not of its grain or a
        range that runs backwards."""
        if partitions is None:
            return cls(key="all", column=partitioning.column, first=partitioning.start, end=date.max)
        first, end = partitioning.span(*partitions)
        return cls(key="...".join(dict.fromkeys(partitions)), column=partitioning.column, first=first, end=end)

    def predicate(self, *, quote: str) -> str:
        """The partition's rows as SQL, the column quoted as the engine quotes names (`"` DataFusion, `` ` `` Spark)."""
        column = f"{quote}{self.column}{quote}"
        return f"{column} >= DATE '{self.first.isoformat()}' AND {column} < DATE '{self.end.isoformat()}'"


@dataclass(frozen=True, kw_only=True)
class CommitRequest:
    """How one publish commits, whichever engine writes it (deltalake or Spark).

    `record` is written with the step's transaction; new columns evolve the
    table in every mode, and `replace_schema` (a new major contract version)
    replaces its schema and content instead. `recheck(table)` is the gate's
    table-dependent part (an append's key check, the schema gate), last run
    against version `checked_at`: it runs again against any newer version
    before committing on it, and may refuse the batch. With a `partition`, the
    commit replaces that partition's rows and nothing else, whatever the mode.
    """

    mode: Literal["overwrite", "append", "merge"]
    primary_key: Sequence[str]
    record: PublishCommit
    step: StepTransaction
    replace_schema: bool = False
    partition: PartitionWindow | None = None
    recheck: Callable[[DeltaTable], None] | None = None
    checked_at: int | None = None
    storage_options: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.partition is not None and self.replace_schema:
            raise ValueError("a new major version replaces the whole table, not one partition")

    def metadata(self) -> dict[str, str]:
        """The commit info: the record and the step that wrote it."""
        return {**self.record.metadata(), APP_ID_KEY: self.step.app_id}

    def rejudge(self, table: DeltaTable | None, *, checked_at: int | None) -> int | None:
        """Run the `recheck` when commits landed on `table` since version `checked_at`; the version now judged."""
        if self.recheck is None or table is None or table.version() == checked_at:
            return checked_at
        self.recheck(table)
        return table.version()
