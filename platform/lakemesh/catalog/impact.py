"""Impact: every downstream product (and other dataset) a change to a product or one of its columns reaches.

With a column, the walk follows column lineage and tells readers reached only
through columns they use without projecting them (INDIRECT); readers that
declare no column lineage are counted in along the job-dataset edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lakemesh.catalog import model as m
from lakemesh.catalog.adjacency import adjacency
from lakemesh.catalog.columns import column_links
from lakemesh.catalog.database import rows_by_id
from lakemesh.catalog.ingestion import WHOLE_DATASET
from lakemesh.catalog.resolve import MAX_DEPTH, product_id
from lakemesh.catalog.store import Catalog, NotFound
from lakemesh.catalog.trees import directed_levels
from lakemesh.lineage.naming import PLATFORM_PRODUCER

__all__ = ["Impact", "impact"]


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
        root = product_id(db, catalog, product, namespace=namespace)
        hops: dict[int, int] = {}
        columns: dict[int, set[str]] = {}
        reached_directly: set[int] = set()
        if column is None:
            for origin, _job, target in directed_levels(
                adjacency(db, catalog.url), root, direction="downstream", depth=MAX_DEPTH
            ):
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
                for r in column_links(db, frontier, direction="downstream", whole_dataset=True):
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
            for origin, _job, target in directed_levels(
                adjacency(db, catalog.url), root, direction="downstream", depth=MAX_DEPTH
            ):
                if target not in declared and (origin == root or origin in hops):
                    hops.setdefault(target, hops.get(origin, 0) + 1)
        rows = rows_by_id(db, m.datasets, hops)
    return sorted(
        (
            Impact(
                name=row.name,
                namespace=row.namespace,
                domain=_domain(row),
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


def _domain(row: Any) -> str:
    """A product's or a model's domain is the first part of its name (the platform wrote both); any other
    dataset's, its namespace."""
    if (row.contract or row.producer == PLATFORM_PRODUCER) and "." in row.name:
        return row.name.split(".", 1)[0]
    return row.namespace
