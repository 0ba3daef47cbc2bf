"""A Spark DataFrame as a private, temporary SQL view that leaves the DataFrame's cache alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["temporary_view"]


@contextmanager
def temporary_view(frame: DataFrame, *, prefix: str) -> Iterator[str]:
    """Name `frame` in SQL for the block, then drop the name.

    Dropping a view also uncaches every cached plan with the same result as the
    view's, which would throw away a persisted batch the publish still has to
    write. The view is therefore over a no-op filter of the frame, a plan that
    reads the cache but is not the cached one.
    """
    from pyspark.sql import functions as F

    name = f"{prefix}_{uuid.uuid4().hex}"
    frame.filter(F.lit(True)).createOrReplaceTempView(name)
    try:
        yield name
    finally:
        frame.sparkSession.catalog.dropTempView(name)
