"""Column lineage over the catalog: Marquez's column-lineage graph, and the sources of one product column.

Walks go level by level, one indexed query per hop over the `column_lineage`
edges, on SQLite and PostgreSQL alike; a dataset's `*` field stands for its
INDIRECT inputs (join keys, filters) that shape every row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lakemesh.catalog import model as m
from lakemesh.catalog.database import in_batches, rows_by_id
from lakemesh.catalog.ingestion import WHOLE_DATASET
from lakemesh.catalog.resolve import (
    MAX_DEPTH,
    Direction,
    NodeRef,
    check_depth,
    lineage_fields,
    names_of,
    product_id,
    resolve_node,
)
from lakemesh.catalog.store import Catalog, NotFound
from lakemesh.catalog.trees import first_shown

__all__ = ["ColumnSource", "column_lineage_graph", "column_links", "column_sources", "walk_columns"]


def column_links(
    db: sa.Connection, fields: set[tuple[int, str]], *, direction: Direction, whole_dataset: bool = False
) -> list[sa.Row]:
    """Column lineage rows next to `fields`; with `whole_dataset`, also the INDIRECT ones that shape every row.

    Downstream of a dataset's `*` (all its rows) is every link that reads any of its columns.
    """
    c = m.column_lineage
    if direction == "upstream":
        ds, col = c.c.output_dataset_id, c.c.output_field
    else:
        ds, col = c.c.input_dataset_id, c.c.input_field
    rows: list[sa.Row] = []
    by_dataset: dict[int, list[str]] = {}
    for dataset, name in fields:
        by_dataset.setdefault(dataset, []).append(name)
    for dataset, names in by_dataset.items():
        query = sa.select(c).where(ds == dataset)
        if not (whole_dataset and direction == "downstream" and WHOLE_DATASET in names):
            query = query.where(col.in_(names))
        if not whole_dataset:
            query = query.where(c.c.output_field != WHOLE_DATASET)
        rows += db.execute(query).all()
    return rows


def walk_columns(db: sa.Connection, start: set[tuple[int, str]], *, direction: Direction, depth: int) -> list[sa.Row]:
    """Column lineage rows up to `depth` hops up- or downstream of the `start` fields, each field followed once."""
    links: list[sa.Row] = []
    seen, frontier = set(start), set(start)
    for _ in range(depth):
        found = column_links(db, frontier, direction=direction)
        links += found
        reached = {
            (r.input_dataset_id, r.input_field) if direction == "upstream" else (r.output_dataset_id, r.output_field)
            for r in found
        }
        frontier = reached - seen
        seen |= reached
        if not frontier:
            break
    return links


def _start_fields(db: sa.Connection, node: NodeRef) -> set[tuple[int, str]]:
    if node.kind == "datasetField":
        return {(node.dataset_id, node.field)}
    if node.kind == "dataset":
        datasets = [node.dataset_id]
    else:
        datasets = [row.dataset_id for row in _io_of_jobs(db, [node.job_id]) if row.direction == "output"]
    fields: set[tuple[int, str]] = set()
    for dataset in datasets:
        stored = db.scalar(sa.select(m.datasets.c.fields).where(m.datasets.c.id == dataset)) or []
        fields |= {(dataset, f["name"]) for f in stored} | {(dataset, f) for f in lineage_fields(db, dataset)}
    return fields


def column_lineage_graph(
    catalog: Catalog, node_id: str, *, depth: int = 20, with_downstream: bool = False
) -> dict[str, Any]:
    """`GET /api/v1/column-lineage`: field nodes upstream (and downstream on request) of a node."""
    check_depth(depth)
    with catalog.engine.connect() as db:
        start = _start_fields(db, resolve_node(db, node_id))
        links = walk_columns(db, start, direction="upstream", depth=depth)
        if with_downstream:
            links += walk_columns(db, start, direction="downstream", depth=depth)
        links = list(
            {(r.output_dataset_id, r.output_field, r.input_dataset_id, r.input_field): r for r in links}.values()
        )
        fields = set(start) | {(r.output_dataset_id, r.output_field) for r in links}
        fields |= {(r.input_dataset_id, r.input_field) for r in links}
        datasets = rows_by_id(db, m.datasets, {d for d, _ in fields})
    types = {(i, f["name"]): f.get("type") for i, row in datasets.items() for f in row.fields or []}

    def ref(dataset: int, name: str) -> str:
        row = datasets[dataset]
        return f"datasetField:{row.namespace}:{row.name}:{name}"

    nodes: dict[str, dict[str, Any]] = {}
    for dataset, name in sorted(fields, key=lambda f: ref(*f)):
        row = datasets[dataset]
        nodes[ref(dataset, name)] = {
            "id": ref(dataset, name),
            "type": "DATASET_FIELD",
            "data": {
                "namespace": row.namespace,
                "dataset": row.name,
                "datasetVersion": row.current_version,
                "field": name,
                "fieldType": types.get((dataset, name)),
                "transformationDescription": None,
                "transformationType": None,
                "inputFields": [],
            },
            "inEdges": [],
            "outEdges": [],
        }
    for r in sorted(
        links, key=lambda r: (ref(r.output_dataset_id, r.output_field), ref(r.input_dataset_id, r.input_field))
    ):
        target, source = ref(r.output_dataset_id, r.output_field), ref(r.input_dataset_id, r.input_field)
        upstream = datasets[r.input_dataset_id]
        nodes[target]["data"]["inputFields"].append(
            {
                "namespace": upstream.namespace,
                "dataset": upstream.name,
                "datasetVersion": upstream.current_version,
                "field": r.input_field,
                "transformationDescription": r.transformation_description,
                "transformationType": r.transformation_type,
                "transformationSubtype": r.transformation_subtype,
            }
        )
        edge = {"origin": source, "destination": target}
        nodes[target]["inEdges"].append(edge)
        nodes[source]["outEdges"].append(edge)
    return {"graph": list(nodes.values())}


@dataclass(frozen=True, kw_only=True)
class ColumnSource:
    """A column and the columns it is computed from, recursively, back to the sources."""

    namespace: str
    dataset: str
    field: str
    transformation: str | None
    inputs: list[ColumnSource]
    repeated: bool = False
    """Shown in full where the printed tree first shows it, above: here only as a reference."""


def column_sources(catalog: Catalog, product: str, column: str, *, namespace: str | None = None) -> ColumnSource:
    """Which source columns feed one column of a product, as a tree (`lakemesh catalog lineage d.p.column`)."""
    with catalog.engine.connect() as db:
        root = product_id(db, catalog, product, namespace=namespace)
        known = {f["name"] for f in catalog.product(product, namespace=namespace).fields} | lineage_fields(db, root)
        if column not in known:
            raise NotFound(f"{product} has no column {column!r}; its columns: {', '.join(sorted(known))}")
        links = walk_columns(db, {(root, column)}, direction="upstream", depth=MAX_DEPTH)
        datasets = names_of(db, m.datasets, [root, *(r.input_dataset_id for r in links)])
    feeds: dict[tuple[int, str], list[tuple[str | None, tuple[int, str]]]] = {}
    for r in sorted(links, key=lambda r: (datasets[r.input_dataset_id].name, r.input_field)):
        how = r.transformation_subtype or r.transformation_type
        feeds.setdefault((r.output_dataset_id, r.output_field), []).append((how, (r.input_dataset_id, r.input_field)))
    expanded_at = first_shown((root, column), feeds, depth=MAX_DEPTH)
    printed: set[tuple[int, str]] = set()

    def grow(key: tuple[int, str], how: str | None, parent: tuple[int, str] | None) -> ColumnSource:
        row = datasets[key[0]]
        expanded = parent is None or expanded_at.get(key) == (parent, how)
        repeated = not expanded and key in printed  # else a leaf at the depth limit, met first here
        printed.add(key)
        inputs = [grow(source, link, key) for link, source in feeds.get(key, [])] if expanded else []
        return ColumnSource(
            namespace=row.namespace,
            dataset=row.name,
            field=key[1],
            transformation=how,
            inputs=inputs,
            repeated=repeated,
        )

    return grow((root, column), None, None)


def _io_of_jobs(db: sa.Connection, job_ids: Iterable[int]) -> list[sa.Row]:
    io = m.job_io
    return [row for chunk in in_batches(job_ids) for row in db.execute(sa.select(io).where(io.c.job_id.in_(chunk)))]
