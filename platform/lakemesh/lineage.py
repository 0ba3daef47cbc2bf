"""OpenLineage events for every publish, sent through the standard `openlineage-python` client.

By default events go to the embedded catalog through `CatalogTransport`, a
client transport like any other; setting the standard OpenLineage configuration
(`OPENLINEAGE_URL`, `OPENLINEAGE_CONFIG`, `OPENLINEAGE__TRANSPORT__*`, or an
`openlineage.yml`) sends them wherever that says instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
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
)
from openlineage.client.transport.transport import Config, Transport
from openlineage.client.uuid import generate_new_uuid

from lakemesh.catalog import Catalog
from lakemesh.contracts import Contract
from lakemesh.schema import contract_checks
from lakemesh.settings import Settings

__all__ = [
    "PRODUCER",
    "CatalogTransport",
    "CatalogTransportConfig",
    "ColumnInput",
    "ContractDatasetFacet",
    "InputRef",
    "PublishLineage",
    "lineage_client",
]

PRODUCER = "https://github.com/lakemesh/lakemesh"
JOB_NAMESPACE = "lakemesh"
_STANDARD_ENV = (
    "OPENLINEAGE_URL",
    "OPENLINEAGE_CONFIG",
    "OPENLINEAGE_DISABLED",
    "OPENLINEAGE__TRANSPORT__TYPE",
)


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
        return f"{PRODUCER}/spec/ContractDatasetFacet.json"


@attr.define
class CatalogTransportConfig(Config):
    """Which catalog to write to: a SQLite path or a database URL."""

    url: str = ""

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> CatalogTransportConfig:
        return cls(url=params.get("url") or Settings.from_env().catalog_url)


class CatalogTransport(Transport):
    """Delivers events into the embedded catalog; selectable as transport type
    `lakemesh.lineage.CatalogTransport` in any OpenLineage configuration."""

    kind = "lakemesh"
    config_class = CatalogTransportConfig

    def __init__(self, config: CatalogTransportConfig) -> None:
        self.config = config

    def emit(self, event: Any) -> None:
        Catalog(self.config.url).ingest(event)


def _standard_config_present() -> bool:
    if any(os.environ.get(name) for name in _STANDARD_ENV):
        return True
    return any(p.is_file() for p in (Path.cwd() / "openlineage.yml", Path.home() / ".openlineage" / "openlineage.yml"))


def lineage_client(settings: Settings) -> OpenLineageClient:
    """The standard client: the embedded catalog unless OpenLineage is configured otherwise."""
    if _standard_config_present():
        return OpenLineageClient()
    return OpenLineageClient(transport=CatalogTransport(CatalogTransportConfig(url=settings.catalog_url)))


@dataclass(frozen=True, kw_only=True)
class InputRef:
    """A dataset a run read: a product at a Delta version, or a landing file."""

    namespace: str
    name: str
    version: str | None = None

    def to_openlineage(self) -> InputDataset:
        facets = {}
        if self.version is not None:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=self.version)
        return InputDataset(namespace=self.namespace, name=self.name, facets=facets)


@dataclass(frozen=True, kw_only=True)
class ColumnInput:
    """An input column that an output column is computed from, and how (OpenLineage transformation)."""

    dataset: InputRef
    field: str
    type: str = "DIRECT"
    subtype: str | None = None
    description: str | None = None


def _column_lineage_facet(lineage: Mapping[str, Sequence[ColumnInput]]) -> Any:
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=source.dataset.namespace,
                        name=source.dataset.name,
                        field=source.field,
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type=source.type, subtype=source.subtype, description=source.description or ""
                            )
                        ],
                    )
                    for source in sources
                ]
            )
            for column, sources in lineage.items()
        }
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PublishLineage:
    """START, then COMPLETE or FAIL, for one publish of one product."""

    def __init__(
        self,
        client: OpenLineageClient,
        *,
        settings: Settings,
        contract: Contract,
        inputs: Sequence[InputRef],
        column_lineage: Mapping[str, Sequence[ColumnInput]] | None = None,
        parent_run_id: str | None = None,
        parent_job: str | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.contract = contract
        self.inputs = list(inputs)
        self.column_lineage = dict(column_lineage or {})
        self.run_id = str(generate_new_uuid())
        self._parent = (parent_run_id, parent_job)

    def _run(self, extra: Mapping[str, Any] | None = None) -> Run:
        facets: dict[str, Any] = dict(extra or {})
        parent_run_id, parent_job = self._parent
        if parent_run_id:
            facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=parent_run_id),
                job=parent_run.Job(namespace="dagster", name=parent_job or "dagster"),
            )
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
    ):
        contract = self.contract
        base = {
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
            "ownership": ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner(name=f"team:{contract.owner}", type="OWNER")]
            ),
            "documentation": documentation_dataset.DocumentationDatasetFacet(description=contract.description),
            "contract": ContractDatasetFacet.of(contract, location=self.settings.table_uri(contract.name)),
        }
        if self.column_lineage:
            base["columnLineage"] = _column_lineage_facet(self.column_lineage)
        return OutputDataset(
            namespace=self.settings.namespace,
            name=contract.name,
            facets={**base, **(facets or {})},
            outputFacets=dict(output_facets or {}),
        )

    def _emit(self, state: RunState, run: Run, outputs: list[OutputDataset]) -> None:
        self.client.emit(
            RunEvent(
                eventType=state,
                eventTime=_now(),
                run=run,
                job=self._job(),
                producer=PRODUCER,
                inputs=[i.to_openlineage() for i in self.inputs],
                outputs=outputs,
            )
        )

    def start(self) -> None:
        self._emit(RunState.START, self._run(), [self._output()])

    def complete(self, *, version: int, rows: int, assertions: Mapping[str, bool]) -> None:
        facets = {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(version)),
            "dataQualityAssertions": _assertions(self.contract, assertions),
        }
        stats = {"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows)}
        self._emit(RunState.COMPLETE, self._run(), [self._output(facets, stats)])

    def fail(self, message: str, *, assertions: Mapping[str, bool] | None = None) -> None:
        error = error_message_run.ErrorMessageRunFacet(message=message, programmingLanguage="python")
        facets = {"dataQualityAssertions": _assertions(self.contract, assertions)} if assertions else {}
        self._emit(RunState.FAIL, self._run({"errorMessage": error}), [self._output(facets)])


def _assertions(contract: Contract, outcome: Mapping[str, bool]) -> Any:
    columns = {c.name: c.column for c in contract_checks(contract)}
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(assertion=name, success=ok, column=columns.get(name))
            for name, ok in outcome.items()
        ]
    )
