"""The job-dataset graph held in memory, reloaded only when it changes.

Walking lineage one SQL query per hop costs a round trip per level and per
direction; a catalog of 10,000 datasets has only some 50,000 edges, a few
megabytes in memory. Each process keeps them per catalog with the graph
version they were read at (`graph_state.version`, moved by ingestion in the
same transaction as any change to a job's inputs or outputs), and checks that
version, one indexed read, before every walk: another process's writes are
seen at once.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from lakemesh.catalog import model as m

__all__ = ["Adjacency", "adjacency"]


@dataclass
class Adjacency:
    """Edges by job and by dataset: (other end, direction), where direction is the job's `input` or `output`."""

    version: int
    of_job: dict[int, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    of_dataset: dict[int, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))


_cached: dict[str, Adjacency] = {}
_lock = threading.Lock()


def adjacency(db: sa.Connection, url: str) -> Adjacency:
    """The graph as of this connection's view, read again only when its version moved."""
    version = db.scalar(sa.select(m.graph_state.c.version).where(m.graph_state.c.id == 1))
    held = _cached.get(url)
    if held is not None and held.version == version:
        return held
    with _lock:
        held = _cached.get(url)
        if held is None or held.version != version:
            held = Adjacency(version=version)
            io = m.job_io.c
            for job, dataset, direction in db.execute(sa.select(io.job_id, io.dataset_id, io.direction)):
                held.of_job[job].append((dataset, direction))
                held.of_dataset[dataset].append((job, direction))
            _cached[url] = held
    return held
