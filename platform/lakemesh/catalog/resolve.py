"""What a lineage question starts from: a Marquez node id or a product, found in the catalog's rows.

Marquez's node ids (`dataset:<namespace>:<name>`, `job:...`, `datasetField:...:<field>`)
are parsed here, trying every split since namespaces may hold colons; the
walks of `graph`, `trees`, `columns` and `impact` start from what this finds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from lakemesh.catalog import model as m
from lakemesh.catalog.database import rows_by_id
from lakemesh.catalog.ingestion import WHOLE_DATASET
from lakemesh.catalog.store import Catalog, NotFound
from lakemesh.errors import LakemeshError

__all__ = [
    "MAX_DEPTH",
    "Direction",
    "InvalidNodeId",
    "NodeRef",
    "check_depth",
    "datasets_shown",
    "lineage_fields",
    "names_of",
    "product_id",
    "resolve_node",
]

MAX_DEPTH = 100
Direction = Literal["upstream", "downstream"]


class InvalidNodeId(LakemeshError, ValueError):
    """A node id that is not `dataset:<namespace>:<name>`, `job:<namespace>:<name>` or `datasetField:...:<field>`."""


@dataclass(frozen=True)
class NodeRef:
    """A node a Marquez id names: a dataset, a job, or one field of a dataset, by row id."""

    kind: Literal["dataset", "job", "datasetField"]
    dataset_id: int | None = None
    job_id: int | None = None
    field: str | None = None


def check_depth(depth: int) -> int:
    """The depth asked for, refused beyond `MAX_DEPTH`: a walk's cost grows with it."""
    if depth < 0 or depth > MAX_DEPTH:
        raise ValueError(f"depth must be between 0 and {MAX_DEPTH}, got {depth}")
    return depth


def resolve_node(db: sa.Connection, node_id: str) -> NodeRef:
    """Find the node a Marquez node id names; namespaces may hold colons, so every split is tried."""
    kind, sep, rest = node_id.partition(":")
    rest = rest.split("#", 1)[0]  # `...#<version>` pins a version; the graph is the current one
    if not sep or kind not in ("dataset", "job", "datasetField") or ":" not in rest:
        raise InvalidNodeId(
            f"nodeId {node_id!r} does not parse: expected dataset:<namespace>:<name>, job:<namespace>:<name> "
            "or datasetField:<namespace>:<name>:<field>"
        )
    field_name = None
    if kind == "datasetField":
        rest, _, field_name = rest.rpartition(":")
        if ":" not in rest or not field_name:
            raise InvalidNodeId(f"nodeId {node_id!r} does not parse: a datasetField id ends in :<field>")
    table = m.jobs if kind == "job" else m.datasets
    splits = [(rest[:i], rest[i + 1 :]) for i, ch in enumerate(rest) if ch == ":"]
    found = db.execute(
        sa.select(table.c.id, table.c.namespace, table.c.name).where(
            sa.or_(*(sa.and_(table.c.namespace == ns, table.c.name == name) for ns, name in splits))
        )
    ).first()
    if found is None:
        raise NotFound(f"nodeId {node_id!r} names no {kind} the catalog knows")
    if kind == "job":
        return NodeRef("job", job_id=found.id)
    if kind == "datasetField":
        fields = db.scalar(sa.select(m.datasets.c.fields).where(m.datasets.c.id == found.id)) or []
        known = {f["name"] for f in fields} | lineage_fields(db, found.id)
        if field_name not in known:
            raise NotFound(f"nodeId {node_id!r}: dataset {found.name!r} has no field {field_name!r}")
    return NodeRef(kind, dataset_id=found.id, field=field_name)


def lineage_fields(db: sa.Connection, dataset_id: int) -> set[str]:
    """Fields column lineage names for a dataset: a reader may see columns its schema facet does not list."""
    c = m.column_lineage
    outputs = sa.select(c.c.output_field.label("f")).where(c.c.output_dataset_id == dataset_id)
    inputs = sa.select(c.c.input_field.label("f")).where(c.c.input_dataset_id == dataset_id)
    return set(db.scalars(sa.union(outputs, inputs))) - {WHOLE_DATASET}


def names_of(db: sa.Connection, table: sa.Table, ids: Iterable[int]) -> dict[int, sa.Row]:
    """Namespace and name of dataset or job rows by id: all a tree or a path shows of them."""
    return rows_by_id(db, table, ids, columns=("id", "namespace", "name"))


def datasets_shown(db: sa.Connection, ids: Iterable[int]) -> dict[int, sa.Row]:
    """What a tree or a picture shows of dataset rows by id: namespace, name, current version, and `model`, true
    for a registered model (a dataset of OpenLineage type `MODEL`, as its training run writes it)."""
    dataset_type = m.datasets.c.facets[("datasetType", "datasetType")].as_string()
    model = sa.func.coalesce(dataset_type == "MODEL", False).label("model")
    return rows_by_id(db, m.datasets, ids, columns=("id", "namespace", "name", "current_version", model))


def product_id(db: sa.Connection, catalog: Catalog, name: str, *, namespace: str | None) -> int:
    """The dataset row id of a product (`NotFound` names datasets of that name that are not the product)."""
    entry = catalog.product(name, namespace=namespace)
    return db.scalar(
        sa.select(m.datasets.c.id).where(m.datasets.c.namespace == entry.namespace, m.datasets.c.name == entry.name)
    )
