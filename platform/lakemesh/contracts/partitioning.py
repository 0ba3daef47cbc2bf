"""Time partitions declared in a contract: one required date column, a grain, and the first partition.

ODCS marks the column itself (`partitioned: true`, `partitionKeyPosition: 1`);
the grain and the first partition are the platform's, in that property's
`customProperties` (`partitionGrain: day | month | year`, `partitionStart:
1992-01-01`). Everything else about partitions (the Dagster partitions, the
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


def _is_key(key: str, grain: Grain) -> bool:
    """Whether `key` is written exactly as this grain writes its keys (zero-padded, nothing more)."""
    try:
        parsed = date.fromisoformat({"day": key, "month": f"{key}-01", "year": f"{key}-01-01"}[grain])
    except ValueError:
        return False
    return parsed.strftime(_KEY_FORMATS[grain]) == key
