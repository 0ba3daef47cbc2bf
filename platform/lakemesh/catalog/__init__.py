"""The catalog: an OpenLineage event store with a Marquez-compatible API and product pages.

`Catalog` stores events and answers lookups (SQLite file or PostgreSQL URL);
`graph`, `trees`, `columns` and `impact` answer lineage and impact questions;
`create_app` (`lakemesh.catalog.api`) serves both over HTTP, and
`lakemesh.catalog.transport.CatalogTransport` lets the OpenLineage client write
into it.
"""

from lakemesh.catalog.columns import ColumnSource, column_lineage_graph, column_sources
from lakemesh.catalog.database import catalog_url
from lakemesh.catalog.entries import ProductEntry, VersionEntry
from lakemesh.catalog.graph import lineage_graph
from lakemesh.catalog.impact import Impact, impact
from lakemesh.catalog.resolve import InvalidNodeId
from lakemesh.catalog.store import Catalog, NotFound
from lakemesh.catalog.trees import LineageNode, product_graph, product_lineage

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
