"""Time partitions declared in a contract: one required date column, a grain, and the first partition.

ODCS marks the column itself (`partitioned: true`, `partitionKeyPosition: 1`);
the grain and the first partition are the platform's, in that property's
`customProperties` (`partitionGrain: day | month | year`, `partitionStart:
1992-01-01`), with how far back a partition reads its inputs when that is
further than its own window (`partitionLookback: 4`: a month of shipments by
ship month reads the orders of the four months before it). Everything else about partitions (the Dagster partitions, the
mappings to inputs, how Delta replaces one) is derived from this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = ["GRAINS", "Grain", "Partitioning"]

Grain = Literal["day", "month", "year"]
GRAINS: tuple[Grain, ...] = ("day", "month", "year")

_KEY_FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


@dataclass(frozen=True, kw_only=True)
class Partitioning:
    """A product's time partitions: by `column` (a required date), one per `grain`, the first holding `start`."""

    column: str
    grain: Grain
    start: date
    lookback: int = 0
    """How many partitions (of this grain) before its own a partition reads of its partitioned inputs."""

    @property
    def key_format(self) -> str:
        """The `strftime` format of a partition key: `1995-06-30`, `1995-06` or `1995`."""
        return _KEY_FORMATS[self.grain]

    def key_of(self, day: date) -> str:
        """The key of the partition holding `day`."""
        return day.strftime(self.key_format)

    def window(self, key: str) -> tuple[date, date]:
        """The days of a partition: from its first day, up to (not including) the next partition's first day.

        Raises `ValueError` for a key that is not one of this grain's (`1995-06` for a daily product).
        """
        parts = [int(part) for part in key.split("-")] if _is_key(key, self.grain) else None
        if parts is None:
            example = self.key_of(self.start)
            raise ValueError(f"{key!r} is not a {self.grain} partition key such as {example!r}")
        if self.grain == "day":
            first = date(*parts)
            return first, date.fromordinal(first.toordinal() + 1)
        if self.grain == "month":
            year, month = parts
            return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)
        return date(parts[0], 1, 1), date(parts[0] + 1, 1, 1)

    def span(self, first_key: str, last_key: str) -> tuple[date, date]:
        """The days of the partitions from `first_key` through `last_key`: `[first day, end)`.

        Raises `ValueError` for a key not of this grain, or a range that runs backwards.
        """
        first, _ = self.window(first_key)
        last, end = self.window(last_key)
        if last < first:
            raise ValueError(f"the partition range {first_key}...{last_key} runs backwards")
        return first, end

    def reads(self, first: date, end: date) -> tuple[date, date]:
        """The days of its inputs the partitions `[first, end)` read: as many partitions further back as its
        lookback (`[1995-03-01, 1995-08-01)` for July 1995 by month with a lookback of 4)."""
        start = first  # before this product's own first partition too: its inputs may go back further
        for _ in range(self.lookback):
            start, _ = self.window(self.key_of(date.fromordinal(start.toordinal() - 1)))
        return start, end


def _is_key(key: str, grain: Grain) -> bool:
    """Whether `key` is written exactly as this grain writes its keys (zero-padded, nothing more)."""
    try:
        parsed = date.fromisoformat({"day": key, "month": f"{key}-01", "year": f"{key}-01-01"}[grain])
    except ValueError:
        return False
    return parsed.strftime(_KEY_FORMATS[grain]) == key
