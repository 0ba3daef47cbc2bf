"""Dagster partitions from the contracts' time partitions: a product's partitions, and how they read their inputs'.

A contract declares its partitions once (`contracts.partitioning`); this is all
Dagster needs of it. Keys are written as the contract writes them
(`1995-06-30`, `1995-06`, `1995`), so a Dagster partition key is a publish's
partition key. The partitions run from the contract's first one through the
last one that reads the newest landed day (the one holding it, and as many
after it as the lookback), so a new landing day is a new partition.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime

import dagster as dg

from lakemesh.contracts import Contract
from lakemesh.contracts.partitioning import Partitioning

__all__ = ["partition_mapping", "partitions_definition", "step_partitions"]

_CRON = {"day": "0 0 * * *", "month": "0 0 1 * *", "year": "0 0 1 1 *"}


def partitions_definition(partitioning: Partitioning, *, through: date | None) -> dg.TimeWindowPartitionsDefinition:
    """One Dagster partition per grain from the first partition through the last reading `through` (none while
    nothing has landed), in UTC, keyed as the contract keys them: with a lookback of 5, a ship month reads the
    order days of the 5 months before it, so the months through December read July's order days (those lines
    ship by November: the last month is one of margin)."""
    if through is None or through < partitioning.start:
        end = partitioning.start
    else:
        _, end = partitioning.window(partitioning.key_of(through))
        for _ in range(partitioning.lookback):
            _, end = partitioning.window(partitioning.key_of(end))
    return dg.TimeWindowPartitionsDefinition(
        start=datetime.combine(partitioning.start, datetime.min.time()),
        end=datetime.combine(end, datetime.min.time()),
        cron_schedule=_CRON[partitioning.grain],
        fmt=partitioning.key_format,
        timezone="UTC",
        end_offset=1,  # today's partition too, once today has landed: `end` is the bound, not the clock
    )


def partition_mapping(reader: Partitioning | None, upstream: Partitioning | None) -> dg.PartitionMapping | None:
    """Which partitions of a partitioned input a product's partition reads: those of the same days, whatever
    either grain (a month reads its 30 days, a day the month holding it), reaching as many partitions back as
    the reader's lookback; a product without partitions reads every one. None for an input without partitions."""
    if upstream is None:
        return None
    if reader is None:
        return dg.AllPartitionMapping()
    # a month (or year) still arriving reads days not landed yet: they are no partitions, and no error (Dagster
    # marks the option beta, and says so at every load: not on the console)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.TimeWindowPartitionMapping(start_offset=-reader.lookback, allow_nonexistent_upstream_partitions=True)


def step_partitions(context: dg.AssetExecutionContext, contract: Contract) -> tuple[str, str] | None:
    """The first and last partition keys a step of a partitioned product builds (one run may build a range);
    None for a product without partitions."""
    if contract.partitioning is None:
        return None
    keys = context.partition_key_range
    return keys.start, keys.end
