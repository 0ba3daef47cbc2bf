"""Marquez's lineage graph: the jobs and datasets around a node, as `GET /api/v1/lineage` answers.

It walks the job-dataset edges held in memory (`adjacency`), then reads only
the nodes it returns, splicing in those the node cache (`nodes`) still holds.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from lakemesh.catalog.adjacency import Adjacency, adjacency
from lakemesh.catalog.nodes import graph_nodes
from lakemesh.catalog.resolve import check_depth, resolve_node
from lakemesh.catalog.store import Catalog

__all__ = ["lineage_graph", "lineage_graph_json"]


def lineage_graph(catalog: Catalog, node_id: str, *, depth: int = 20) -> dict[str, Any]:
    """`GET /api/v1/lineage`: jobs up to `depth` hops from the node, either direction, with their datasets."""
    return orjson.loads(lineage_graph_json(catalog, node_id, depth=depth))


def lineage_graph_json(catalog: Catalog, node_id: str, *, depth: int = 20) -> bytes:
    """`lineage_graph` serialized, its nodes spliced in from the node cache as they are."""
    check_depth(depth)
    with catalog.engine.connect() as db:
        start = resolve_node(db, node_id)
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
