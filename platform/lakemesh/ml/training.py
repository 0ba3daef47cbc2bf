"""Train a declared model on its pinned features: Arrow batches into QuantileDMatrix, XGBoost `hist`, the gate.

The matrix is built by an XGBoost `DataIter` over the feature product's Delta
files, so only one batch of raw rows is in memory at a time (XGBoost keeps
the quantised matrix). The first pass folds every batch's exact bytes into a
digest: training on the same pinned version gives the same digest, and a
model's digest says which data it saw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xgboost

from lakemesh.errors import TrainingRefused
from lakemesh.ml.device import trained_on
from lakemesh.ml.drift import FeatureHistograms
from lakemesh.ml.features import Encoding, FeatureSource, Period

__all__ = ["TrainedModel", "train_model", "training_matrix"]


class _FeatureBatches(xgboost.DataIter):
    """One period of the features, encoded, a batch per `next`; counts and digests its first pass.

    XGBoost passes over the data several times (four on the CPU). The first pass
    keeps the encoded batches while they fit in `spec.cache_mib`, and later
    passes replay them; past that bound every pass reads Delta again, so memory
    stays bounded whatever the data's size.
    """

    def __init__(self, source: FeatureSource, period: Period, encoding: Encoding) -> None:
        super().__init__(release_data=True)
        self.source, self.period, self.encoding = source, period, encoding
        self.rows = self.positives = self.passes = 0
        self.digest = ""
        self._hasher = hashlib.sha256()
        self._budget = source.spec.cache_mib * 2**20
        self._cache: list[tuple[np.ndarray, np.ndarray]] | None = []
        self._pass: Iterator[tuple[np.ndarray, np.ndarray]] | None = None

    def _read(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        label = self.source.spec.label
        for batch in self.source.batches(self.period, [*self.encoding.columns, label]):
            labels = pc.cast(batch.column(label), pa.float32()).to_numpy(zero_copy_only=False)
            yield self.encoding.encode(batch), labels

    def replay(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (matrix, labels) batch of the period again: from memory when the first pass kept them all."""
        return iter(self._cache) if self._cache is not None and self.passes else self._read()

    def _first(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        kept = 0
        for matrix, labels in self._read():
            self.source.refuse_invalid(matrix, self.encoding, outcome="trained")
            self._hasher.update(matrix.tobytes())
            self._hasher.update(labels.tobytes())
            self.rows += len(labels)
            self.positives += int(np.nansum(labels))
            kept += matrix.nbytes + labels.nbytes
            if self._cache is not None and kept <= self._budget:
                self._cache.append((matrix, labels))
            else:
                self._cache = None
            yield matrix, labels
        self.digest = self._hasher.hexdigest()

    def reset(self) -> None:
        self._pass = None

    def next(self, input_data: Callable[..., None]) -> bool:
        if self._pass is None:
            self._pass = self._first() if not self.passes else self.replay()
        batch = next(self._pass, None)
        if batch is None:
            self.passes += 1
            return False
        input_data(
            data=batch[0],
            label=batch[1],
            feature_names=list(self.encoding.columns),
            feature_types=self.encoding.feature_types,
        )
        return True


def training_matrix(
    source: FeatureSource, period: Period, encoding: Encoding, *, reference: xgboost.QuantileDMatrix | None = None
) -> tuple[xgboost.QuantileDMatrix, _FeatureBatches]:
    """One period as a QuantileDMatrix (bins from `reference` for a validation set), with what its pass saw."""
    spec = source.spec
    if not source.rows(period):  # XGBoost itself would only say that its iterator had no batch
        raise TrainingRefused(
            f"{spec.registered_name}: {spec.features} version {source.version} has no rows {period.name} "
            f"({spec.split.column}); nothing was trained"
        )
    batches = _FeatureBatches(source, period, encoding)
    max_bin = int(spec.params.get("max_bin", 256))
    matrix = xgboost.QuantileDMatrix(batches, ref=reference, max_bin=max_bin, enable_categorical=True)
    if batches.positives in (0, batches.rows):
        only = "true" if batches.positives else "false"
        raise TrainingRefused(
            f"{spec.registered_name}: the label {spec.label} has one class only {period.name} "
            f"({batches.rows} rows, all {only}) in {spec.features} version {source.version}; "
            "a classifier needs both; nothing was trained"
        )
    return matrix, batches


@dataclass(frozen=True, kw_only=True)
class TrainedModel:
    """A booster and everything the registry records about how it was made."""

    booster: xgboost.Booster
    encoding: Encoding
    params: dict[str, Any]
    metrics: dict[str, float]
    device: str
    """The device XGBoost reported it trained on."""
    digest: str
    training_rows: int
    validation_rows: int
    baseline: dict[str, Any]
    """The drift baseline: each feature's bins and its proportions over the training period, and what the
    model may score (from the start of its validation period on)."""

    def failed_gate(self, gate: dict[str, float]) -> list[str]:
        """The gate's metrics this model is below, as `metric value < minimum`."""
        return [
            f"validation {metric} {self.metrics[metric]:.4f} < {minimum}"
            for metric, minimum in gate.items()
            if self.metrics[metric] < minimum
        ]


def train_model(source: FeatureSource, *, device: str) -> TrainedModel:
    """Train on the earlier period and evaluate on the later one, with XGBoost's `hist` on `device`."""
    spec = source.spec
    encoding = source.encoding()
    train, seen = training_matrix(source, source.training, encoding)
    valid, held_out = training_matrix(source, source.validation, encoding, reference=train)
    params = {
        "objective": "binary:logistic",
        "seed": 0,
        **spec.params,
        "tree_method": "hist",
        "device": device,
        "eval_metric": list(spec.gate),
    }
    evaluation: dict[str, dict[str, list[float]]] = {}
    booster = xgboost.train(
        params,
        train,
        num_boost_round=spec.rounds,
        evals=[(valid, "validation")],
        evals_result=evaluation,
        verbose_eval=False,
    )
    indptr, values = train.get_quantile_cut()
    cuts = {column: values[indptr[j] : indptr[j + 1]].tolist() for j, column in enumerate(encoding.columns)}
    histograms = FeatureHistograms.for_training(encoding, cuts=cuts, bins=spec.drift.bins)
    for matrix, _ in seen.replay():
        histograms.add(matrix)
    return TrainedModel(
        booster=booster,
        encoding=encoding,
        params=params,
        metrics={metric: float(evaluation["validation"][metric][-1]) for metric in spec.gate},
        device=trained_on(booster),
        digest=seen.digest,
        training_rows=seen.rows,
        validation_rows=held_out.rows,
        baseline={
            "edges": histograms.edges,
            "proportions": histograms.proportions(),
            "validate_from": spec.split.validate_from.isoformat(),
        },
    )
