"""The quarantine: refused rows beside their product, in the owning domain's private area.

Every value is kept as text (nested values as JSON), so refused batches of any
shape fit one table, stamped with the product, the run and the checks that failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import polars as pl
from deltalake import CommitProperties, write_deltalake

from lakemesh.storage.commit import PublishCommit

__all__ = ["as_text", "write_quarantine"]


def as_text(rows: pl.DataFrame) -> pl.DataFrame:
    """Every column as a string: scalars cast, lists and structs as JSON."""
    nested = (pl.List, pl.Array, pl.Struct)
    return rows.select(
        pl.struct(name).struct.json_encode().str.slice(len(name) + 4).str.head(-1).alias(name)
        if isinstance(dtype, nested)
        else pl.col(name).cast(pl.String)
        for name, dtype in rows.schema.items()
    )


def write_quarantine(
    uri: str,
    rows: pl.DataFrame,
    *,
    run_id: str,
    product: str,
    failed_checks: str,
    storage_options: Mapping[str, str] | None = None,
) -> None:
    """Append refused rows to the product's quarantine table in one commit."""
    stamped = as_text(rows).with_columns(
        _lakemesh_product=pl.lit(product),
        _lakemesh_run_id=pl.lit(run_id),
        _lakemesh_failed_checks=pl.lit(failed_checks),
        _lakemesh_quarantined_at=pl.lit(datetime.now(UTC)),
    )
    write_deltalake(
        uri,
        stamped.to_arrow(),
        mode="append",
        schema_mode="merge",
        storage_options=dict(storage_options or {}),
        commit_properties=CommitProperties(custom_metadata=PublishCommit(run_id=run_id).metadata()),
    )
