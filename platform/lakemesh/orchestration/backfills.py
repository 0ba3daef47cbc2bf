"""A `lakemesh backfill` as a Dagster backfill: the UI's Backfills page lists it, with its runs and partitions.

The runs themselves are the catch-up's (`catch_up.backfill` plans them, one run
per partition range under Dagster's single-run policy); this is the backfill's
record in the UI's instance, written once its runs have ended so that a Dagster
daemon never takes it for one to launch. Its runs carry its id
(`dagster/backfill`), as the runs a daemon launches for a backfill do.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.asset_backfill import AssetBackfillData
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from lakemesh.orchestration.catch_up import Build

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

__all__ = ["BACKFILL_TAG", "new_backfill_id", "record_backfill"]

BACKFILL_TAG = "dagster/backfill"
"""The run tag naming the backfill a run belongs to."""


def new_backfill_id() -> str:
    """An id like the ones Dagster gives backfills (eight lowercase characters)."""
    return uuid.uuid4().hex[:8]


def _subset(graph: AssetGraph, builds: Mapping[Build, Collection[dg.AssetKey]]) -> AssetGraphSubset:
    """The partitions (and whole assets) of these assets of each build."""
    partitioned: dict[dg.AssetKey, set[str]] = {}
    whole: set[dg.AssetKey] = set()
    for build, keys_built in builds.items():
        for key in keys_built:
            definition = graph.get(key).partitions_def
            if build.partitions is None or definition is None:
                whole.add(key)
                continue
            first, last = build.partitions
            keys = definition.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
            partitioned.setdefault(key, set()).update(keys)
    return AssetGraphSubset(
        partitions_subsets_by_asset_key={
            key: graph.get(key).partitions_def.subset_with_partition_keys(sorted(keys))  # type: ignore[union-attr]
            for key, keys in partitioned.items()
        },
        non_partitioned_asset_keys=whole,
    )


def record_backfill(
    instance: dg.DagsterInstance,
    graph: AssetGraph,
    *,
    backfill_id: str,
    title: str,
    planned: Sequence[Build],
    ran: Mapping[Build, Collection[dg.AssetKey]],
    materialized: Mapping[Build, Collection[dg.AssetKey]],
    canceled: bool,
    started: float,
    tags: Mapping[str, str],
) -> PartitionBackfill:
    """Record a backfill that planned `planned`, ran these assets of each build (`ran`: those an input failed for
    were left out) and materialized `materialized`, in `instance`, as ended: completed, failed (what ran and was not
    materialized), or canceled (interrupted: what never ran is neither requested nor failed)."""
    target = _subset(graph, {build: build.keys for build in planned})
    requested = _subset(graph, ran) if canceled else target
    done = _subset(graph, materialized)
    data = AssetBackfillData.from_asset_graph_subset(target, instance, started)._replace(
        requested_subset=requested,
        materialized_subset=done,
        failed_and_downstream_subset=requested - done,
    )
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=backfill_id,
        backfill_timestamp=started,
        tags=tags,
        dynamic_partitions_store=instance,
        asset_graph_subset=target,
        title=title,
        description=None,
        run_config=None,
    )
    if canceled:
        status = BulkActionStatus.CANCELED
    elif (target - done).is_empty:
        status = BulkActionStatus.COMPLETED_SUCCESS
    else:
        status = BulkActionStatus.COMPLETED_FAILED
    backfill = (
        backfill.with_asset_backfill_data(data, dynamic_partitions_store=instance, asset_graph=graph)
        .with_status(status)
        .with_end_timestamp(time.time())
    )
    instance.add_backfill(backfill)
    return backfill
