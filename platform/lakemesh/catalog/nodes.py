"""Lineage graph nodes as ready JSON, kept per process and rebuilt only for nodes written since.

A depth-5 lineage graph of a large catalog returns hundreds of nodes; reading
each row, converting its timestamps and serializing it again dominates the
answer. Every dataset or job row moves its `updated_at` whenever an event
touches it (a job's latest run and inputs/outputs included), so a node's JSON
is valid for as long as that stamp stands: a graph reads only the stamps of
its nodes, rebuilds the nodes whose stamp moved, and splices the others in as
they are (`orjson.Fragment`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from lakemesh.catalog import model as m
from lakemesh.catalog.adjacency import Adjacency
from lakemesh.catalog.database import in_batches, rows_by_id
from lakemesh.catalog.marquez import dataset_node_json, job_node_json, runs_json

__all__ = ["Node", "graph_nodes"]

MAX_NODES = 200_000
"""Nodes kept per catalog, least recently used out first (about a kilobyte each)."""

_DATASET_COLUMNS = ("id", "namespace", "name", "created_at", "updated_at", "description", "fields", "last_modified_at")
_NAME_COLUMNS = ("id", "namespace", "name")
_JOB_COLUMNS = ("id", "namespace", "name", "created_at", "updated_at", "description", "location", "latest_run_id")


@dataclass(frozen=True)
class Node:
    """One node of a lineage graph: its Marquez id, its name, and its `data` serialized."""

    stamp: Any
    id: str
    namespace: str
    name: str
    data: orjson.Fragment


class _Kept:
    def __init__(self) -> None:
        self.nodes: OrderedDict[tuple[str, int], Node] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, int], stamp: Any) -> Node | None:
        with self.lock:
            node = self.nodes.get(key)
            if node is None or node.stamp != stamp:
                return None
            self.nodes.move_to_end(key)
            return node

    def put(self, key: tuple[str, int], node: Node) -> None:
        with self.lock:
            self.nodes[key] = node
            self.nodes.move_to_end(key)
            while len(self.nodes) > MAX_NODES:
                self.nodes.popitem(last=False)


_kept: dict[str, _Kept] = {}


def graph_nodes(
    db: sa.Connection, url: str, graph: Adjacency, *, dataset_ids: Iterable[int], job_ids: Iterable[int]
) -> tuple[dict[int, Node], dict[int, Node]]:
    """The dataset and job nodes, by id, current as of this connection's view."""
    kept = _kept.setdefault(url, _Kept())
    datasets = _current(db, kept, "dataset", m.datasets, dataset_ids, lambda ids: _dataset_nodes(db, ids))
    # a job node shows its inputs and outputs as the graph had them: valid for that graph version only
    jobs = _current(db, kept, "job", m.jobs, job_ids, lambda ids: _job_nodes(db, graph, ids), graph.version)
    return datasets, jobs


def _current(
    db: sa.Connection, kept: _Kept, kind: str, table: sa.Table, ids: Iterable[int], build: Any, *also: Any
) -> dict:
    found: dict[int, Node] = {}
    stale: dict[int, Any] = {}
    for chunk in in_batches(ids):
        # the stamp as stored (no datetime parsing): it is compared, never shown
        stamps = sa.type_coerce(table.c.updated_at, sa.String)
        for row_id, updated in db.execute(sa.select(table.c.id, stamps).where(table.c.id.in_(chunk))):
            stamp = (updated, *also)
            node = kept.get((kind, row_id), stamp)
            if node is None:
                stale[row_id] = stamp
            else:
                found[row_id] = node
    for row_id, node in build(stale).items():
        node = Node(stamp=stale[row_id], id=node.id, namespace=node.namespace, name=node.name, data=node.data)
        kept.put((kind, row_id), node)
        found[row_id] = node
    return found


def _dataset_nodes(db: sa.Connection, ids: Iterable[int]) -> dict[int, Node]:
    built = {}
    for row in rows_by_id(db, m.datasets, ids, columns=_DATASET_COLUMNS).values():
        data = orjson.dumps({**dataset_node_json(row), "type": "DATASET"})
        built[row.id] = Node(
            None, f"dataset:{row.namespace}:{row.name}", row.namespace, row.name, orjson.Fragment(data)
        )
    return built


def _job_nodes(db: sa.Connection, graph: Adjacency, ids: Iterable[int]) -> dict[int, Node]:
    rows = list(rows_by_id(db, m.jobs, ids, columns=_JOB_COLUMNS).values())
    if not rows:
        return {}
    io_ids = {dataset for job in rows for dataset, _ in graph.of_job.get(job.id, ())}
    names = {i: (r.namespace, r.name) for i, r in rows_by_id(db, m.datasets, io_ids, columns=_NAME_COLUMNS).items()}
    latest = runs_json(db, [job.latest_run_id for job in rows if job.latest_run_id], summary=True)
    built = {}
    for job in rows:
        io: dict[str, list] = {"input": [], "output": []}
        for dataset, direction in sorted(graph.of_job.get(job.id, ())):
            namespace, name = names[dataset]
            io[direction].append({"namespace": namespace, "name": name})
        data = orjson.dumps(job_node_json(job, io, latest.get(job.latest_run_id)))
        built[job.id] = Node(None, f"job:{job.namespace}:{job.name}", job.namespace, job.name, orjson.Fragment(data))
    return built
