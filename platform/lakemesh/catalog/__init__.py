"""The catalog: an OpenLineage event store with a Marquez-compatible API and product pages.

`Catalog` stores events and answers lookups (SQLite file or PostgreSQL URL);
`lakemesh.catalog.graph` answers lineage and impact questions; `create_app`
serves both over HTTP.
"""

from lakemesh.catalog.graph import (
    ColumnSource,
    Impact,
    InvalidNodeId,
    LineageNode,
    column_lineage_graph,
    column_sources,
    impact,
    lineage_graph,
    product_graph,
    product_lineage,
)
from lakemesh.catalog.store import Catalog, NotFound, ProductEntry, VersionEntry, catalog_url

__all__ = [
    "Catalog",
    "ColumnSource",
    "Impact",
    "InvalidNodeId",
    "LineageNode",
    "NotFound",
    "ProductEntry",
    "VersionEntry",
    "catalog_url",
    "column_lineage_graph",
    "column_sources",
    "impact",
    "lineage_graph",
    "product_graph",
    "product_lineage",
]
