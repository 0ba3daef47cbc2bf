"""Lineage: OpenLineage events of every publish, their transports and outbox, and column lineage."""

from lakemesh.lineage.columns import (
    INDIRECT_SUBTYPES,
    declared_column_lineage,
    declared_dataset_lineage,
    sql_column_lineage,
    sql_dataset_lineage,
)
from lakemesh.lineage.events import (
    JOB_NAMESPACE,
    PRODUCER,
    ColumnInput,
    ContractDatasetFacet,
    InputRef,
    PublishLineage,
    abort_event,
    dagster_parent,
    publish_run_id,
)
from lakemesh.lineage.outbox import Delivery, Outbox
from lakemesh.lineage.transport import CatalogTransport, LineageEmitter, lineage_client

__all__ = [
    "INDIRECT_SUBTYPES",
    "JOB_NAMESPACE",
    "PRODUCER",
    "CatalogTransport",
    "ColumnInput",
    "ContractDatasetFacet",
    "Delivery",
    "InputRef",
    "LineageEmitter",
    "Outbox",
    "PublishLineage",
    "abort_event",
    "dagster_parent",
    "declared_column_lineage",
    "declared_dataset_lineage",
    "lineage_client",
    "publish_run_id",
    "sql_column_lineage",
    "sql_dataset_lineage",
]
