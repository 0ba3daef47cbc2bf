"""Lineage: OpenLineage events of every publish, their naming, validation, transports and outbox, column lineage."""

from lakemesh.lineage.columns import (
    INDIRECT_SUBTYPES,
    declared_column_lineage,
    declared_dataset_lineage,
    sql_column_lineage,
    sql_dataset_lineage,
)
from lakemesh.lineage.events import (
    ColumnInput,
    ContractDatasetFacet,
    InputRef,
    PublishLineage,
    abort_event,
    parent_run_facet,
    product_facets,
    publish_run_id,
)
from lakemesh.lineage.naming import JOB_NAMESPACE, PLATFORM_PRODUCER, quarantine_dataset, storage_dataset
from lakemesh.lineage.outbox import Delivery, Outbox
from lakemesh.lineage.transport import LineageEmitter, lineage_client
from lakemesh.lineage.validation import InvalidEvent, check_run_event

__all__ = [
    "INDIRECT_SUBTYPES",
    "JOB_NAMESPACE",
    "PLATFORM_PRODUCER",
    "ColumnInput",
    "ContractDatasetFacet",
    "Delivery",
    "InputRef",
    "InvalidEvent",
    "LineageEmitter",
    "Outbox",
    "PublishLineage",
    "abort_event",
    "check_run_event",
    "declared_column_lineage",
    "declared_dataset_lineage",
    "lineage_client",
    "parent_run_facet",
    "product_facets",
    "publish_run_id",
    "quarantine_dataset",
    "sql_column_lineage",
    "sql_dataset_lineage",
    "storage_dataset",
]
