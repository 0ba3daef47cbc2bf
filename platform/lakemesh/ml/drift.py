"""Population stability index of each feature: the data being scored against the data the model learnt from.

Bins are fixed at training time: for a number, about `bins` quantile edges
taken from XGBoost's own cut points of the training data; for a category, its
code. A bin of its own holds missing values. The training proportions are
recorded with the model, so a drift check never re-reads the training set.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from lakemesh.ml.features import Encoding

__all__ = ["FeatureHistograms", "psi"]

_FLOOR = 1e-4
"""The smallest proportion a bin counts as: an empty bin on one side must not make the index infinite."""


@dataclass(kw_only=True)
class FeatureHistograms:
    """Counts per bin of every feature over some rows, for given bin edges."""

    edges: dict[str, list[float]]
    """Per numeric feature, the inner edges of its bins; categories are binned by code and have none."""
    encoding: Encoding
    counts: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        self._bounds = {column: np.array([-np.inf, *inner, np.inf]) for column, inner in self.edges.items()}

    @classmethod
    def empty(cls, encoding: Encoding, *, edges: Mapping[str, list[float]]) -> FeatureHistograms:
        counts = {column: np.zeros(cls._size(encoding, edges, column), dtype=np.int64) for column in encoding.columns}
        return cls(edges=dict(edges), encoding=encoding, counts=counts)

    @classmethod
    def for_training(cls, encoding: Encoding, *, cuts: Mapping[str, list[float]], bins: int) -> FeatureHistograms:
        """Empty histograms with about `bins` quantile bins per number, chosen among XGBoost's cut points."""
        edges = {}
        for column in encoding.columns:
            if column in encoding.categories:
                continue
            points = np.asarray(cuts[column], dtype=np.float64)
            picks = np.unique(np.quantile(points, np.linspace(0, 1, bins + 1)[1:-1])) if len(points) else points
            edges[column] = picks.tolist()
        return cls.empty(encoding, edges=edges)

    @staticmethod
    def _size(encoding: Encoding, edges: Mapping[str, list[float]], column: str) -> int:
        inner = len(encoding.categories[column]) if column in encoding.categories else len(edges[column]) + 1
        return inner + 1  # the last bin: missing

    def add(self, matrix: np.ndarray) -> None:
        """Count the rows of an encoded batch; NaN (missing) falls in no inner bin and is counted apart."""
        for column, values in zip(self.encoding.columns, np.ascontiguousarray(matrix.T), strict=True):
            counts = self.counts[column]
            if column in self.encoding.categories:
                present = values[~np.isnan(values)].astype(np.int64)
                inner = np.bincount(present, minlength=len(counts) - 1)
            else:  # [edge, next edge) as searchsorted(side="right") has it; the last bin is closed at +inf
                inner, _ = np.histogram(values, bins=self._bounds[column])
            counts[:-1] += inner
            counts[-1] += len(values) - int(inner.sum())

    def proportions(self) -> dict[str, list[float]]:
        return {column: (counts / max(int(counts.sum()), 1)).tolist() for column, counts in self.counts.items()}


def psi(expected: Iterable[float], actual: Iterable[float]) -> float:
    """sum of (actual - expected) * ln(actual / expected) over the bins, proportions floored at 1e-4."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _FLOOR), max(a, _FLOOR)
        total += (a - e) * math.log(a / e)
    return total
