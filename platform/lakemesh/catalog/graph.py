"""Lineage questions over the catalog: Marquez's graphs, up/downstream trees, column lineage, impact.

Marquez's lineage graph walks the job-dataset edges held in memory
(`adjacency`), then reads only the nodes it returns; the other traversals go
level by level with one indexed query per hop over the `job_io` and
`column_lineage` edges, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import sqlalchemy as sa

from lakemesh.catalog import model as m
from lakemesh.catalog.adjacency import Adjacency, adjacency
from lakemesh.catalog.nodes import graph_nodes
from lakemesh.catalog.store import WHOLE_DATASET, Catalog, NotFound, in_batches, rows_by_id

__all__ = [
    "MAX_DEPTH",
    "ColumnSource",
    "Impact",
    "InvalidNodeId",
    "LineageNode",
    "ProductGraph",
    "column_lineage_graph",
    "column_sources",
    "impact",
    "lineage_graph",
    "lineage_graph_json",
    "product_graph",
    "product_lineage",
]

MAX_DEPTH = 100
Direction = Literal["upstream", "downstream"]


class InvalidNodeId(ValueError):
    """A node id that is not `dataset:<namespace>:<name>`, `job:<namespace>:<name>` or `datasetField:...:<field>`."""


@dataclass(frozen=True)
class _Node:
    kind: Literal["dataset", "job", "datasetField"]
    dataset_id: int | None = None
    job_id: int | None = None
    field: str | None = None


def _check_depth(depth: int) -> int:
    if depth < 0 or depth > MAX_DEPTH:
        raise ValueError(f"depth must be between 0 and {MAX_DEPTH}, got {depth}")
    return depth


def _resolve(db: sa.Connection, node_id: str) -> _Node:
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
        return _Node("job", job_id=found.id)
    if kind == "datasetField":
        fields = db.scalar(sa.select(m.datasets.c.fields).where(m.datasets.c.id == found.id)) or []
        known = {f["name"] for f in fields} | _lineage_fields(db, found.id)
        if field_name not in known:
            raise NotFound(f"nodeId {node_id!r}: dataset {found.name!r} has no field {field_name!r}")
    return _Node(kind, dataset_id=found.id, field=field_name)


def _lineage_fields(db: sa.Connection, dataset_id: int) -> set[str]:
    c = m.column_lineage
    outputs = sa.select(c.c.output_field.label("f")).where(c.c.output_dataset_id == dataset_id)
    inputs = sa.select(c.c.input_field.label("f")).where(c.c.input_dataset_id == dataset_id)
    return set(db.scalars(sa.union(outputs, inputs))) - {WHOLE_DATASET}


def _io_of_jobs(db: sa.Connection, job_ids: Iterable[int]) -> list[sa.Row]:
    io = m.job_io
    return [row for chunk in in_batches(job_ids) for row in db.execute(sa.select(io).where(io.c.job_id.in_(chunk)))]


# -- Marquez's lineage graph -------------------------------------------------------------------------


def lineage_graph(catalog: Catalog, node_id: str, *, depth: int = 20) -> dict[str, Any]:
    """`GET /api/v1/lineage`: jobs up to `depth` hops from the node, either direction, with their datasets."""
    return orjson.loads(lineage_graph_json(catalog, node_id, depth=depth))


def lineage_graph_json(catalog: Catalog, node_id: str, *, depth: int = 20) -> bytes:
    """`lineage_graph` serialized, its nodes spliced in from the node cache as they are."""
    _check_depth(depth)
    with catalog.engine.connect() as db:
        start = _resolve(db, node_id)
        graph = adjacency(db, catalog.url)
        jobs = {start.job_id} if start.kind == "job" else {job for job, _ in graph.of_dataset.get(start.dataset_id, ())}
        frontier = set(jobs)
        for _ in range(depth):
            datasets = {dataset for job in frontier for dataset, _ in graph.of_job.get(job, ())}
            frontier = {job for dataset in datasets for job, _ in graph.of_dataset.get(dataset, ())} - jobs
            if not frontier:
                break
            jobs |= frontier
        edges = [(job, dataset, direction) for job in jobs for dataset, direction in graph.of_job.get(job, ())]
        dataset_ids = {dataset for _, dataset, _ in edges} | ({start.dataset_id} if start.dataset_id else set())
        return orjson.dumps({"graph": _graph_nodes(db, catalog.url, graph, jobs, dataset_ids, edges)})


def _graph_nodes(
    db: sa.Connection, url: str, graph: Adjacency, job_ids: set[int], dataset_ids: set[int], edges: list
) -> list[dict[str, Any]]:
    datasets, jobs = graph_nodes(db, url, graph, dataset_ids=dataset_ids, job_ids=job_ids)
    in_edges: dict[str, list] = {n.id: [] for n in (*datasets.values(), *jobs.values())}
    out_edges: dict[str, list] = {n: [] for n in in_edges}
    for job_id, dataset_id, direction in sorted(set(edges)):
        job, dataset = jobs[job_id].id, datasets[dataset_id].id
        origin, destination = (dataset, job) if direction == "input" else (job, dataset)
        edge = {"origin": origin, "destination": destination}
        out_edges[origin].append(edge)
        in_edges[destination].append(edge)
    nodes = [
        {"id": n.id, "type": kind, "data": n.data, "inEdges": in_edges[n.id], "outEdges": out_edges[n.id]}
        for kind, found in (("DATASET", datasets), ("JOB", jobs))
        for n in found.values()
    ]
    return sorted(nodes, key=lambda n: n["id"])


# -- product trees -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LineageNode:
    """A dataset in a lineage tree, with the job that links it to its parent in the tree."""

    namespace: str
    name: str
    via_job: str | None
    children: list[LineageNode] = field(default_factory=list)
    repeated: bool = False
    """Shown in full where the tree first reaches it (nearest the root): here only as a reference."""


def _directed_levels(graph: Adjacency, start: int, direction: Direction, depth: int) -> list[tuple[int, int, int]]:
    """(from dataset, job, to dataset) links, `depth` job hops up- or downstream of one dataset."""
    near, far = ("output", "input") if direction == "upstream" else ("input", "output")
    links: list[tuple[int, int, int]] = []
    frontier, seen = {start}, {start}
    for _ in range(depth):
        by_job: dict[int, set[int]] = {}
        for dataset in frontier:
            for job, side in graph.of_dataset.get(dataset, ()):
                if side == near:
                    by_job.setdefault(job, set()).add(dataset)
        frontier = set()
        for job, origins in by_job.items():
            for target, side in graph.of_job.get(job, ()):
                if side != far:
                    continue
                links += [(origin, job, target) for origin in origins]
                if target not in seen:
                    seen.add(target)
                    frontier.add(target)
        if not frontier:
            break
    return links


def _names(db: sa.Connection, table: sa.Table, ids: Iterable[int]) -> dict[int, sa.Row]:
    return rows_by_id(db, table, ids, columns=("id", "namespace", "name"))


def _product_id(db: sa.Connection, catalog: Catalog, name: str, namespace: str | None) -> int:
    entry = catalog.product(name, namespace=namespace)
    return db.scalar(
        sa.select(m.datasets.c.id).where(m.datasets.c.namespace == entry.namespace, m.datasets.c.name == entry.name)
    )


def product_lineage(
    catalog: Catalog, name: str, *, direction: Direction, depth: int, namespace: str | None = None
) -> LineageNode:
    """The datasets `depth` job hops up- or downstream of one dataset, as a tree."""
    _check_depth(depth)
    with catalog.engine.connect() as db:
        root = _product_id(db, catalog, name, namespace)
        links = _directed_levels(adjacency(db, catalog.url), root, direction, depth)
        datasets = _names(db, m.datasets, [root, *(link[2] for link in links)])
        jobs = _names(db, m.jobs, [link[1] for link in links])
    children: dict[int, list[tuple[int, int]]] = {}
    for origin, job, target in links:
        children.setdefault(origin, []).append((job, target))
    for dataset, links_out in children.items():
        children[dataset] = sorted(set(links_out), key=lambda link: (datasets[link[1]].name, link[0]))
    expanded_at = _first_reached(root, children)

    def grow(dataset: int, via: int | None, parent: int | None) -> LineageNode:
        row = datasets[dataset]
        # each dataset in full once, where first reached: the tree grows with the graph, not with its paths
        repeated = parent is not None and expanded_at.get(dataset) != (parent, via)
        return LineageNode(
            namespace=row.namespace,
            name=row.name,
            via_job=jobs[via].name if via else None,
            children=[] if repeated else [grow(target, job, dataset) for job, target in children.get(dataset, [])],
            repeated=repeated,
        )

    return grow(root, None, None)


def _first_reached(root: Any, children: Mapping[Any, Sequence[tuple[Any, Any]]]) -> dict[Any, tuple[Any, Any]]:
    """For each node, the (parent, link) by which a breadth-first walk from `root` reaches it first."""
    first: dict[Any, tuple[Any, Any]] = {}
    level, seen = [root], {root}
    while level:
        following = []
        for node in level:
            for link, target in children.get(node, []):
                if target not in seen:
                    seen.add(target)
                    first[target] = (node, link)
                    following.append(target)
        level = following
    return first


@dataclass(frozen=True, kw_only=True)
class ProductGraph:
    """The datasets and jobs around one product, for drawing: edges run from upstream to downstream."""

    root: str
    datasets: dict[str, int]  # name -> signed distance (negative upstream, positive downstream)
    edges: list[tuple[str, str, str]]  # (from dataset, job, to dataset)


def product_graph(catalog: Catalog, name: str, *, depth: int = 3, namespace: str | None = None) -> ProductGraph:
    """Upstream and downstream of one product within `depth` job hops, for the product page."""
    _check_depth(depth)
    with catalog.engine.connect() as db:
        root = _product_id(db, catalog, name, namespace)
        up = _directed_levels(adjacency(db, catalog.url), root, "upstream", depth)
        down = _directed_levels(adjacency(db, catalog.url), root, "downstream", depth)
        datasets = _names(db, m.datasets, [root, *(link[2] for link in up + down)])
        jobs = _names(db, m.jobs, [link[1] for link in up + down])
    distance = {root: 0}
    for links, sign in ((up, -1), (down, 1)):
        for origin, _job, target in links:  # links come level by level, so the first distance is the shortest
            distance.setdefault(target, distance[origin] + sign)
    edges = {(datasets[o].name, jobs[j].name, datasets[t].name) for o, j, t in down}
    edges |= {(datasets[t].name, jobs[j].name, datasets[o].name) for o, j, t in up}
    return ProductGraph(
        root=datasets[root].name,
        datasets={datasets[i].name: d for i, d in distance.items()},
        edges=sorted(edges),
    )


# -- column lineage -------------------------------------------------------------------------------------


def _column_links(
    db: sa.Connection, fields: set[tuple[int, str]], direction: Direction, *, whole_dataset: bool = False
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


def _walk_columns(db: sa.Connection, start: set[tuple[int, str]], direction: Direction, depth: int) -> list[sa.Row]:
    links: list[sa.Row] = []
    seen, frontier = set(start), set(start)
    for _ in range(depth):
        found = _column_links(db, frontier, direction)
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


def _start_fields(db: sa.Connection, node: _Node) -> set[tuple[int, str]]:
    if node.kind == "datasetField":
        return {(node.dataset_id, node.field)}
    if node.kind == "dataset":
        datasets = [node.dataset_id]
    else:
        datasets = [row.dataset_id for row in _io_of_jobs(db, [node.job_id]) if row.direction == "output"]
    fields: set[tuple[int, str]] = set()
    for dataset in datasets:
        stored = db.scalar(sa.select(m.datasets.c.fields).where(m.datasets.c.id == dataset)) or []
        fields |= {(dataset, f["name"]) for f in stored} | {(dataset, f) for f in _lineage_fields(db, dataset)}
    return fields


def column_lineage_graph(
    catalog: Catalog, node_id: str, *, depth: int = 20, with_downstream: bool = False
) -> dict[str, Any]:
    """`GET /api/v1/column-lineage`: field nodes upstream (and downstream on request) of a node."""
    _check_depth(depth)
    with catalog.engine.connect() as db:
        start = _start_fields(db, _resolve(db, node_id))
        links = _walk_columns(db, start, "upstream", depth)
        if with_downstream:
            links += _walk_columns(db, start, "downstream", depth)
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
    """Shown in full where the tree first reaches it: here only as a reference."""


def column_sources(catalog: Catalog, product: str, column: str, *, namespace: str | None = None) -> ColumnSource:
    """Which source columns feed one column of a product, as a tree (`lakemesh catalog lineage d.p.column`)."""
    with catalog.engine.connect() as db:
        root = _product_id(db, catalog, product, namespace)
        known = {f["name"] for f in catalog.product(product, namespace=namespace).fields} | _lineage_fields(db, root)
        if column not in known:
            raise NotFound(f"{product} has no column {column!r}; its columns: {', '.join(sorted(known))}")
        links = _walk_columns(db, {(root, column)}, "upstream", MAX_DEPTH)
        datasets = _names(db, m.datasets, [root, *(r.input_dataset_id for r in links)])
    feeds: dict[tuple[int, str], list[tuple[str | None, tuple[int, str]]]] = {}
    for r in sorted(links, key=lambda r: (datasets[r.input_dataset_id].name, r.input_field)):
        how = r.transformation_subtype or r.transformation_type
        feeds.setdefault((r.output_dataset_id, r.output_field), []).append((how, (r.input_dataset_id, r.input_field)))
    expanded_at = _first_reached((root, column), feeds)

    def grow(key: tuple[int, str], how: str | None, parent: tuple[int, str] | None) -> ColumnSource:
        row = datasets[key[0]]
        if parent is not None and expanded_at.get(key) != (parent, how):
            return ColumnSource(
                namespace=row.namespace, dataset=row.name, field=key[1], transformation=how, inputs=[], repeated=True
            )
        inputs = [grow(source, link, key) for link, source in feeds.get(key, [])]
        return ColumnSource(namespace=row.namespace, dataset=row.name, field=key[1], transformation=how, inputs=inputs)

    return grow((root, column), None, None)


# -- impact -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Impact:
    """A downstream dataset a change would reach, how far away, and through which columns if known."""

    name: str
    namespace: str
    domain: str
    owner: str | None
    access: str | None
    hops: int
    columns: tuple[str, ...]
    """The affected columns (`*`: every row, through a join key, filter, grouping...); empty without column
    lineage."""
    indirect: bool = False
    """Reached only through columns the reader uses without projecting them (INDIRECT lineage)."""


def impact(catalog: Catalog, product: str, *, column: str | None = None, namespace: str | None = None) -> list[Impact]:
    """Every downstream product (and other dataset) affected by a change to a product or one of its columns."""
    with catalog.engine.connect() as db:
        root = _product_id(db, catalog, product, namespace)
        hops: dict[int, int] = {}
        columns: dict[int, set[str]] = {}
        reached_directly: set[int] = set()
        if column is None:
            for origin, _job, target in _directed_levels(adjacency(db, catalog.url), root, "downstream", MAX_DEPTH):
                hops.setdefault(target, hops.get(origin, 0) + 1)
        else:
            known = {f["name"] for f in catalog.product(product, namespace=namespace).fields}
            if column not in known:
                raise NotFound(f"{product} has no column {column!r}; its columns: {', '.join(sorted(known))}")
            frontier, depth = {(root, column)}, 0
            direct = {(root, column): True}  # reached through projected columns only
            while frontier:
                depth += 1
                reached: set[tuple[int, str]] = set()
                for r in _column_links(db, frontier, "downstream", whole_dataset=True):
                    key, source = (r.output_dataset_id, r.output_field), (r.input_dataset_id, r.input_field)
                    parent = direct.get(source, direct.get((r.input_dataset_id, WHOLE_DATASET), False))
                    through = parent and r.transformation_type != "INDIRECT" and r.output_field != WHOLE_DATASET
                    if key not in direct or (through and not direct[key]):
                        reached.add(key)
                        direct[key] = direct.get(key, False) or through
                    hops.setdefault(key[0], depth)
                    columns.setdefault(key[0], set()).add(key[1])
                frontier = reached
            reached_directly = {dataset for (dataset, _), through in direct.items() if through}
            # readers that declare no column lineage may use the column: count them in, with no columns named
            declared = set(db.scalars(sa.select(m.column_lineage.c.output_dataset_id).distinct()))
            for origin, _job, target in _directed_levels(adjacency(db, catalog.url), root, "downstream", MAX_DEPTH):
                if target not in declared and (origin == root or origin in hops):
                    hops.setdefault(target, hops.get(origin, 0) + 1)
        rows = rows_by_id(db, m.datasets, hops)
    return sorted(
        (
            Impact(
                name=row.name,
                namespace=row.namespace,
                domain=row.name.split(".", 1)[0] if row.contract else row.namespace,
                owner=row.owner,
                access=(row.contract or {}).get("access"),
                hops=hops[i],
                columns=tuple(sorted(columns.get(i, ()))),
                indirect=column is not None and i in columns and i not in reached_directly,
            )
            for i, row in rows.items()
            if i != root
        ),
        key=lambda entry: (entry.hops, entry.name),
    )
