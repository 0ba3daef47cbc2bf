"""dbt-duckdb plugin: upstream products and landing files as dbt sources.

Products are read from Delta at the version the platform pinned for the
model's step (handed over in a file of the step's own, so dbt's vars and the
parsed manifest stay the same); a product with no pinned version is refused,
never read at its latest. Landing files are read through the same reader
Python assets use. Configured in `dbt_project/profiles.yml`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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

    def _pinned(self, product: str) -> int:
        if not self.pins:
            raise ValueError(
                f"{product}: no versions are pinned; the platform builds models (lakemesh run, or Dagster)"
            )
        try:
            pinned = json.loads(Path(self.pins).read_text())
        except FileNotFoundError:
            raise ValueError(f"{product}: the pinned versions file {self.pins} is missing") from None
        if product not in pinned:
            raise ValueError(f"{product} has no version pinned for this model (pinned: {sorted(pinned)})")
        return int(pinned[product])

    def load(self, source_config: SourceConfig) -> Any:
        meta = source_config.meta
        if "product" in meta:
            product = meta["product"]
            domain, name = product.split(".")
            table = open_table(
                f"{self.lakehouse}/{domain}/{name}",
                version=self._pinned(product),
                storage_options=Settings.from_env().storage_options,
            )
            return table.to_pyarrow_dataset()
        if "landing" in meta:
            return read_landing(self.landing, meta["landing"]).to_arrow()
        raise ValueError(f"source {source_config.table_name()} names neither a product nor a landing table")

    def default_materialization(self) -> str:
        return "view"
