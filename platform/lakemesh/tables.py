"""Delta Lake I/O for products: versioned reads, one-commit writes, the quarantine."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

__all__ = [
    "commit_metadata",
    "current_version",
    "history",
    "read_table",
    "write_quarantine",
    "write_table",
]


def current_version(uri: str) -> int | None:
    """The table's latest committed version, or None when nothing was ever published."""
    try:
        return DeltaTable(uri).version()
    except TableNotFoundError:
        return None


def read_table(uri: str, *, version: int | None = None) -> pl.LazyFrame:
    """A lazy scan of one Delta version (the latest when `version` is None)."""
    return pl.scan_delta(uri, version=version)


def commit_metadata(
    *,
    run_id: str,
    contract_id: str,
    contract_version: str,
    code_version: str | None,
    inputs: Mapping[str, int],
) -> dict[str, str]:
    """What every product commit records, so a version can be traced to its run and inputs."""
    return {
        "lakemesh.runId": run_id,
        "lakemesh.contractId": contract_id,
        "lakemesh.contractVersion": contract_version,
        "lakemesh.codeVersion": code_version or "",
        "lakemesh.inputs": json.dumps(dict(sorted(inputs.items()))),
    }


def write_table(
    uri: str,
    data: pa.Table,
    *,
    mode: str,
    primary_key: Sequence[str],
    metadata: Mapping[str, str],
) -> int:
    """Write `data` in one atomic commit and return the new version."""
    commit = CommitProperties(custom_metadata=dict(metadata))
    exists = current_version(uri) is not None
    if mode == "merge" and exists:
        predicate = " AND ".join(f"target.{key} = source.{key}" for key in primary_key)
        (
            DeltaTable(uri)
            .merge(
                data,
                predicate,
                source_alias="source",
                target_alias="target",
                commit_properties=commit,
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
    else:
        write_mode = "append" if mode == "append" and exists else "overwrite"
        write_deltalake(
            uri,
            data,
            mode=write_mode,
            schema_mode="overwrite" if write_mode == "overwrite" and exists else None,
            commit_properties=commit,
        )
    return DeltaTable(uri).version()


def history(uri: str, *, limit: int | None = None) -> list[dict]:
    """Commit log entries, newest first, with the platform's commit metadata in them."""
    return DeltaTable(uri).history(limit)


def write_quarantine(
    uri: str,
    rows: pl.DataFrame,
    *,
    run_id: str,
    product: str,
    failed_checks: str,
) -> int:
    """Append refused rows, every value as text, so any refused batch fits the one table."""
    stamped = rows.select(pl.all().cast(pl.String)).with_columns(
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
        commit_properties=CommitProperties(custom_metadata={"lakemesh.runId": run_id}),
    )
    return DeltaTable(uri).version()
