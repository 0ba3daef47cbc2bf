"""dbt-duckdb plugin: upstream products and landing files as dbt sources.

Products are read from Delta at the version the platform pinned for the
model's step (handed over in a file of the step's own, so dbt's vars and the
parsed manifest stay the same); a product with no pinned version is refused,
never read at its latest. Landing files are read through the same reader
Python assets use. A build of some partitions reads only the days they read
(of landing tables that arrive by the day, and of partitioned products, by
their partition column), as `dbt.source_reads` wrote them in the same file.
Configured in `dbt_project/profiles.yml`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig

from lakemesh.settings import Settings
from lakemesh.storage.delta import open_table
from lakemesh.storage.landing import read_landing

__all__ = ["Plugin"]


class Plugin(BasePlugin):
    """Resolves sources whose meta names a `product` or a `landing` table."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.lakehouse = str(plugin_config["lakehouse"]).rstrip("/")
        self.landing = Path(plugin_config["landing"])
        self.pins = str(plugin_config.get("input_versions") or "")

    def _reads(self, source: str) -> dict[str, Any]:
        if not self.pins:
            raise ValueError(f"{source}: no versions are pinned; the platform builds models (lakemesh run, or Dagster)")
        try:
            return json.loads(Path(self.pins).read_text())
        except FileNotFoundError:
            raise ValueError(f"{source}: the pinned versions file {self.pins} is missing") from None

    def load(self, source_config: SourceConfig) -> Any:
        meta = source_config.meta
        if "product" in meta:
            product = meta["product"]
            reads = self._reads(product)
            pinned = reads["versions"]
            if product not in pinned:
                raise ValueError(f"{product} has no version pinned for this model (pinned: {sorted(pinned)})")
            domain, name = product.split(".")
            table = open_table(
                f"{self.lakehouse}/{domain}/{name}",
                version=int(pinned[product]),
                storage_options=Settings.from_env().storage_options,
            ).to_pyarrow_dataset()
            column = reads["columns"].get(product)
            if column is None:
                return table
            first, end = (date.fromisoformat(day) for day in reads["days"])
            return table.filter(
                (pc.field(column) >= first) & (pc.field(column) < end)
            )  # still lazy: DuckDB reads what it needs
        if "landing" in meta:
            days = self._reads(meta["landing"])["days"] if self.pins else None  # no step: every day
            window = tuple(date.fromisoformat(day) for day in days) if days else None
            return read_landing(self.landing, meta["landing"], days=window).to_arrow()
        raise ValueError(f"source {source_config.table_name()} names neither a product nor a landing table")

    def default_materialization(self) -> str:
        return "view"
