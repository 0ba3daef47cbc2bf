"""dbt-duckdb plugin: upstream products and landing files as dbt sources.

Products are read from Delta at the version the platform pinned before the run
(handed over in a JSON file, so dbt's vars and partial parse stay the same)
(so lineage records exactly what was read), landing files through the same
reader Python assets use. Configured in `dbt_project/profiles.yml`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig
from deltalake import DeltaTable

from lakemesh.storage.landing import read_landing

__all__ = ["Plugin"]


class Plugin(BasePlugin):
    """Resolves sources whose meta names a `product` or a `landing` table."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.lakehouse = str(plugin_config["lakehouse"]).rstrip("/")
        self.landing = Path(plugin_config["landing"])
        self.pins = Path(plugin_config["input_versions"])

    def load(self, source_config: SourceConfig) -> Any:
        meta = source_config.meta
        if "product" in meta:
            product = meta["product"]
            domain, name = product.split(".")
            pinned = json.loads(self.pins.read_text()) if self.pins.is_file() else {}
            return DeltaTable(f"{self.lakehouse}/{domain}/{name}", version=pinned.get(product)).to_pyarrow_dataset()
        if "landing" in meta:
            return read_landing(self.landing, meta["landing"]).to_arrow()
        raise ValueError(f"source {source_config.table_name()} names neither a product nor a landing table")

    def default_materialization(self) -> str:
        return "view"
