"""OpenLineage events for every publish: START, then COMPLETE (from the commit's own facts) or FAIL.

Events carry the product's schema, contract, ownership, column lineage, the
data-quality assertions of the gate and, on COMPLETE, the Delta version
committed and the row count; inputs carry the Delta version read. A refusal's
FAIL event also names the quarantine, a private dataset of the owning domain.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    base_subset_dataset,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    documentation_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    ownership_dataset,
    parent_run,
    schema_dataset,
    symlinks_dataset,
)
from openlineage.client.uuid import generate_new_uuid

from lakemesh.contracts import Contract
from lakemesh.lineage.naming import JOB_NAMESPACE, PLATFORM_PRODUCER, quarantine_dataset, storage_dataset
from lakemesh.lineage.process import PROCESS_FACET, ProcessRunFacet
from lakemesh.lineage.transport import LineageEmitter
from lakemesh.settings import Settings

__all__ = [
    "ColumnInput",
    "ContractDatasetFacet",
    "InputRef",
    "PublishLineage",
    "abort_event",
    "parent_run_facet",
    "product_facets",
    "publish_run_id",
]

_PUBLISH_RUNS = uuid.UUID("6f1c7a52-5d0e-4d55-9a37-1b8f0f3c2a10")


def parent_run_facet(run_id: str, job: str) -> parent_run.ParentRunFacet:
    """The `parent` run facet naming the Dagster run (and its job) a platform run happened in."""
    dagster_job = parent_run.Job(namespace="dagster", name=job)
    return parent_run.ParentRunFacet(run=parent_run.Run(runId=run_id), job=dagster_job)


def publish_run_id(app_id: str) -> str:
    """The lineage run id of the publish whose Delta transaction is `app_id`: a retry, and reconcile, find it again."""
    return str(uuid.uuid5(_PUBLISH_RUNS, app_id))


@attr.define
class ContractDatasetFacet(DatasetFacet):
    """The product's contract as the catalog shows it: id, version, status, access, SLA, location,
    each column's guarantees and classification, and the quality rules."""

    contractId: str
    contractVersion: str
    status: str
    access: str
    location: str
    freshnessHours: float | None = None
    columns: list[dict[str, Any]] = attr.field(factory=list)
    quality: list[dict[str, Any]] = attr.field(factory=list)

    @classmethod
    def of(cls, contract: Contract, *, location: str) -> ContractDatasetFacet:
        return cls(
            contractId=contract.id,
            contractVersion=contract.version,
            status=contract.status,
            access=contract.access,
            location=location,
            freshnessHours=contract.freshness_hours,
            columns=[
                {
                    "name": c.name,
                    "logicalType": c.logical_type,
                    "physicalType": c.physical_type,
                    "required": c.required,
                    "unique": c.unique,
                    "primaryKey": c.primary_key,
                    "classification": c.classification,
                    "allowedValues": list(c.allowed_values) if c.allowed_values else None,
                }
                for c in contract.columns
            ],
            quality=[
                {
                    "name": q.name,
                    "column": q.column,
                    "rule": q.metric or q.query,
                    "operator": q.operator,
                    "threshold": q.threshold,
                    "description": q.description,
                }
                for q in contract.quality
            ],
        )

    @staticmethod
    def _get_schema() -> str:
        return f"{PLATFORM_PRODUCER}/spec/ContractDatasetFacet.json"


def _symlink(namespace: str, name: str) -> Any:
    """The product's name as a `symlinks` facet: what joins the storage-named dataset to the product's node."""
    return symlinks_dataset.SymlinksDatasetFacet(
        identifiers=[symlinks_dataset.Identifier(namespace=namespace, name=name, type="TABLE")]
    )


def product_facets(contract: Contract, *, namespace: str, location: str) -> dict[str, DatasetFacet]:
    """What describes a product, all from its contract: schema, ownership, documentation, the contract itself, and
    the product's name as the `symlinks` of its storage `location`. The catalog rebuilds them from the contract a
    Delta commit carries, so they are the same whether the publish sent them or reconcile recorded the commit."""
    return {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(
                    name=c.name,
                    type=c.physical_type or c.logical_type,
                    description=c.description,
                    ordinal_position=i + 1,
                )
                for i, c in enumerate(contract.columns)
            ]
        ),
        "ownership": _owners(contract),
        "documentation": documentation_dataset.DocumentationDatasetFacet(description=contract.description),
        "contract": ContractDatasetFacet.of(contract, location=location),
        "symlinks": _symlink(namespace, contract.name),
    }


@dataclass(frozen=True, kw_only=True)
class InputRef:
    """A dataset a run read: a product at a Delta version, or a landing file."""

    namespace: str
    name: str
    version: str | None = None
    product: tuple[str, str] | None = None
    """(namespace, name) of the product stored there: sent as the dataset's `symlinks`."""

    @classmethod
    def of_product(cls, product: str, *, settings: Settings, version: int | str | None = None) -> InputRef:
        """A product read at `version`, named by its storage (as Spark's listener names it) with its product name."""
        namespace, name = storage_dataset(settings.table_uri(product))
        return cls(
            namespace=namespace,
            name=name,
            version=None if version is None else str(version),
            product=(settings.namespace, product),
        )

    def to_openlineage(self) -> InputDataset:
        facets: dict[str, Any] = {}
        if self.version is not None:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=self.version)
        if self.product is not None:
            facets["symlinks"] = _symlink(*self.product)
        return InputDataset(namespace=self.namespace, name=self.name, facets=facets)


@dataclass(frozen=True, kw_only=True)
class ColumnInput:
    """An input column that an output column is computed from, and how (OpenLineage transformation)."""

    dataset: InputRef
    field: str
    type: str = "DIRECT"
    subtype: str | None = None
    description: str | None = None


def _input_field(source: ColumnInput) -> Any:
    return column_lineage_dataset.InputField(
        namespace=source.dataset.namespace,
        name=source.dataset.name,
        field=source.field,
        transformations=[
            column_lineage_dataset.Transformation(
                type=source.type, subtype=source.subtype, description=source.description or ""
            )
        ],
    )


def _column_lineage_facet(lineage: Mapping[str, Sequence[ColumnInput]], dataset: Sequence[ColumnInput]) -> Any:
    """Per output column its inputs; `dataset`: the INDIRECT inputs (joins, filters...) that shape every row."""
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            column: column_lineage_dataset.Fields(inputFields=[_input_field(source) for source in sources])
            for column, sources in lineage.items()
        },
        dataset=[_input_field(source) for source in dataset] or None,
    )


class PublishLineage:
    """START, then COMPLETE or FAIL, for one publish of one product; never raises for a transport failure."""

    def __init__(
        self,
        emitter: LineageEmitter,
        *,
        settings: Settings,
        contract: Contract,
        inputs: Sequence[InputRef],
        column_lineage: Mapping[str, Sequence[ColumnInput]] | None = None,
        dataset_lineage: Sequence[ColumnInput] = (),
        parent_run_id: str | None = None,
        parent_job: str | None = None,
        run_id: str | None = None,
        partition: str | None = None,
    ) -> None:
        """`run_id` defaults to a new UUID; a retried publish passes its first attempt's, so its events close it.
        `partition` is the key of the partition (`1995-06-30`) or range (`1995-06-01...1995-06-30`) it replaces."""
        self.emitter = emitter
        self.settings = settings
        self.contract = contract
        self.inputs = list(inputs)
        self.column_lineage = dict(column_lineage or {})
        self.dataset_lineage = list(dataset_lineage)
        self.run_id = run_id or str(generate_new_uuid())
        self._parent = (parent_run_id, parent_job)
        self.partition = partition

    def _run(self, extra: Mapping[str, Any] | None = None) -> Run:
        facets: dict[str, Any] = dict(extra or {})
        parent_run_id, parent_job = self._parent
        if parent_run_id:
            facets["parent"] = parent_run_facet(parent_run_id, parent_job or "dagster")
        return Run(runId=self.run_id, facets=facets)

    def _job(self) -> Job:
        kind = job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="LAKEMESH", jobType=self.contract.producer.upper()
        )
        return Job(namespace=JOB_NAMESPACE, name=self.contract.name, facets={"jobType": kind})

    def _output(
        self,
        facets: Mapping[str, Any] | None = None,
        output_facets: Mapping[str, Any] | None = None,
    ) -> OutputDataset:
        contract, location = self.contract, self.settings.table_uri(self.contract.name)
        base: dict[str, Any] = product_facets(contract, namespace=self.settings.namespace, location=location)
        if self.column_lineage or self.dataset_lineage:
            base["columnLineage"] = _column_lineage_facet(self.column_lineage, self.dataset_lineage)
        namespace, name = storage_dataset(location)
        subset = {"subset": _partition_subset(contract, self.partition)} if self.partition else {}
        return OutputDataset(
            namespace=namespace,
            name=name,
            facets={**base, **(facets or {})},
            outputFacets={**subset, **(output_facets or {})},
        )

    def _quarantine(self) -> OutputDataset:
        """The refused rows' table: private to the owning domain, whatever the product's access."""
        contract = self.contract
        facet = ContractDatasetFacet.of(contract, location=self.settings.quarantine_uri(contract.name))
        facet.contractId, facet.access = f"{contract.id}:quarantine", "private"
        namespace, name = storage_dataset(self.settings.quarantine_uri(contract.name))
        return OutputDataset(
            namespace=namespace,
            name=name,
            facets={
                "symlinks": _symlink(self.settings.namespace, quarantine_dataset(contract.name)),
                "ownership": _owners(contract),
                "documentation": documentation_dataset.DocumentationDatasetFacet(
                    description=f"Rows of {contract.name} refused by its contract (private to {contract.domain})."
                ),
                "contract": facet,
            },
        )

    def _event(self, state: RunState, run: Run, outputs: list[OutputDataset], *, at: datetime | None) -> RunEvent:
        return RunEvent(
            eventType=state,
            eventTime=(at or datetime.now(UTC)).isoformat(),
            run=run,
            job=self._job(),
            producer=PLATFORM_PRODUCER,
            inputs=[i.to_openlineage() for i in self.inputs],
            outputs=outputs,
        )

    def start(self) -> None:
        run = self._run({PROCESS_FACET: ProcessRunFacet.here()})
        self.emitter.emit(self._event(RunState.START, run, [self._output()], at=None))

    def complete_event(
        self, *, version: int, rows: int | None, assertions: Mapping[str, bool], at: datetime | None = None
    ) -> RunEvent:
        """The COMPLETE event of a commit; `at` is the commit's time when it is recorded later (reconcile)."""
        facets = {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(version))}
        if assertions:  # none for a retried step whose commit already stood
            facets["dataQualityAssertions"] = _assertions(self.contract, assertions)
        stats = {}
        if rows is not None:
            stats["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=rows
            )
        return self._event(RunState.COMPLETE, self._run(), [self._output(facets, stats)], at=at)

    def complete(self, *, version: int, rows: int, assertions: Mapping[str, bool]) -> None:
        self.emitter.emit(self.complete_event(version=version, rows=rows, assertions=assertions))

    def fail(self, message: str, *, assertions: Mapping[str, bool] | None = None, quarantined: bool = False) -> None:
        error = error_message_run.ErrorMessageRunFacet(message=message, programmingLanguage="python")
        facets = {"dataQualityAssertions": _assertions(self.contract, assertions)} if assertions else {}
        outputs = [self._output(facets), *([self._quarantine()] if quarantined else [])]
        self.emitter.emit(self._event(RunState.FAIL, self._run({"errorMessage": error}), outputs, at=None))


def abort_event(*, product: str, run_id: str, reason: str) -> RunEvent:
    """ABORT for a publish that started and never committed (its process died): the run is closed, with why."""
    error = error_message_run.ErrorMessageRunFacet(message=reason, programmingLanguage="python")
    return RunEvent(
        eventType=RunState.ABORT,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run_id, facets={"errorMessage": error}),
        job=Job(namespace=JOB_NAMESPACE, name=product),
        producer=PLATFORM_PRODUCER,
    )


def _partition_subset(contract: Contract, key: str) -> Any:
    """OpenLineage's own facet for the part of a dataset a run wrote: the rows of the partition `key` (or range
    `first...last`), as the condition on the partition column that selects them (`order_date >= 1995-06-01 AND
    order_date < 1995-07-01`)."""
    partitioning = contract.partitioning
    if partitioning is None:
        raise ValueError(f"{contract.name} is not partitioned: no partition {key!r}")
    first_key, _, last_key = key.partition("...")
    first, end = partitioning.span(first_key, last_key or first_key)
    column = base_subset_dataset.FieldBaseCompareExpression(field=partitioning.column)

    def compare(comparison: str, day: Any) -> Any:
        literal = base_subset_dataset.LiteralCompareExpression(value=day.isoformat())
        return base_subset_dataset.CompareSubsetCondition(left=column, right=literal, comparison=comparison)

    return base_subset_dataset.OutputSubsetOutputDatasetFacet(
        outputCondition=base_subset_dataset.BinarySubsetCondition(
            left=compare("GREATER_EQUAL_THAN", first), right=compare("LESS_THAN", end), operator="AND"
        )
    )


def _owners(contract: Contract) -> Any:
    return ownership_dataset.OwnershipDatasetFacet(
        owners=[ownership_dataset.Owner(name=f"team:{contract.owner}", type="OWNER")]
    )


def _assertions(contract: Contract, outcome: Mapping[str, bool]) -> Any:
    columns = {check.name: check.column for check in contract.plan.checks}
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(assertion=name, success=ok, column=columns.get(name))
            for name, ok in outcome.items()
        ]
    )
