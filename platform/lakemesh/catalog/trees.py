"""Lineage trees of one product, up- or downstream, and the graph around it that the product page draws.

Walks go level by level over the job-dataset edges held in memory
(`adjacency`); each dataset is shown in full once, where a tree printed top to
bottom first shows it (later occurrences refer back to it), so a tree grows
with the graph, not with its paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakemesh.catalog import model as m
from lakemesh.catalog.adjacency import Adjacency, adjacency
from lakemesh.catalog.resolve import Direction, check_depth, datasets_shown, names_of, product_id
from lakemesh.catalog.store import Catalog

__all__ = ["LineageNode", "ProductGraph", "directed_levels", "first_shown", "product_graph", "product_lineage"]


@dataclass(frozen=True, kw_only=True)
class LineageNode:
    """A dataset in a lineage tree, with the job that links it to its parent in the tree."""

    namespace: str
    name: str
    via_job: str | None
    model: bool = False
    """A registered model (its namespace is the registry's), not a table."""
    version: str | None = None
    """Its current version: the product's Delta version, the model's registered version."""
    children: list[LineageNode] = field(default_factory=list)
    repeated: bool = False
    """Shown in full where the printed tree first shows it, above: here only as a reference."""


def directed_levels(graph: Adjacency, start: int, *, direction: Direction, depth: int) -> list[tuple[int, int, int]]:
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


def product_lineage(
    catalog: Catalog, name: str, *, direction: Direction, depth: int, namespace: str | None = None
) -> LineageNode:
    """The datasets `depth` job hops up- or downstream of one dataset, as a tree."""
    check_depth(depth)
    with catalog.engine.connect() as db:
        root = product_id(db, catalog, name, namespace=namespace)
        links = directed_levels(adjacency(db, catalog.url), root, direction=direction, depth=depth)
        datasets = datasets_shown(db, [root, *(link[2] for link in links)])
        jobs = names_of(db, m.jobs, [link[1] for link in links])
    children: dict[int, list[tuple[int, int]]] = {}
    for origin, job, target in links:
        children.setdefault(origin, []).append((job, target))
    for dataset, links_out in children.items():
        children[dataset] = sorted(set(links_out), key=lambda link: (datasets[link[1]].name, link[0]))
    expanded_at = first_shown(root, children, depth=depth)
    printed: set[int] = set()

    def grow(dataset: int, via: int | None, parent: int | None) -> LineageNode:
        row = datasets[dataset]
        # each dataset in full once, where first printed: the tree grows with the graph, not with its paths
        expanded = parent is None or expanded_at.get(dataset) == (parent, via)
        repeated = not expanded and dataset in printed  # else a leaf at the depth limit, met first here
        printed.add(dataset)
        return LineageNode(
            namespace=row.namespace,
            name=row.name,
            via_job=jobs[via].name if via else None,
            model=bool(row.model),
            version=row.current_version,
            children=[grow(target, job, dataset) for job, target in children.get(dataset, [])] if expanded else [],
            repeated=repeated,
        )

    return grow(root, None, None)


def first_shown(
    root: Any, children: Mapping[Any, Sequence[tuple[Any, Any]]], *, depth: int
) -> dict[Any, tuple[Any, Any]]:
    """For each node, the (parent, link) under which a tree printed top to bottom from `root`, `depth` levels deep,
    shows it in full: the first occurrence a reader meets, so every later one can say "shown above" truthfully.

    A depth-first walk in the children's order. An occurrence at the last level is a leaf (what is below it is
    beyond the depth), so it is not the full one: a shallower occurrence further down may be.
    """
    first: dict[Any, tuple[Any, Any]] = {}
    seen = {root}
    stack = [(root, iter(children.get(root, ())), 0)]
    while stack:
        node, pending, level = stack[-1]
        for link, target in pending:
            if target not in seen and level + 1 < depth:
                seen.add(target)
                first[target] = (node, link)
                stack.append((target, iter(children.get(target, ())), level + 1))
                break
        else:
            stack.pop()
    return first


@dataclass(frozen=True, kw_only=True)
class ProductGraph:
    """The datasets and jobs around one product, for drawing: edges run from upstream to downstream."""

    root: str
    datasets: dict[str, int]  # name -> signed distance (negative upstream, positive downstream)
    edges: list[tuple[str, str, str]]  # (from dataset, job, to dataset)
    models: dict[str, str | None] = field(default_factory=dict)
    """The registered models among the datasets, with their current version."""


def product_graph(catalog: Catalog, name: str, *, depth: int = 3, namespace: str | None = None) -> ProductGraph:
    """Upstream and downstream of one product within `depth` job hops, for the product page."""
    check_depth(depth)
    with catalog.engine.connect() as db:
        root = product_id(db, catalog, name, namespace=namespace)
        up = directed_levels(adjacency(db, catalog.url), root, direction="upstream", depth=depth)
        down = directed_levels(adjacency(db, catalog.url), root, direction="downstream", depth=depth)
        datasets = datasets_shown(db, [root, *(link[2] for link in up + down)])
        jobs = names_of(db, m.jobs, [link[1] for link in up + down])
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
        models={row.name: row.current_version for i, row in datasets.items() if i in distance and row.model},
    )
