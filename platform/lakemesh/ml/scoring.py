"""Score the later period of a model's features with a registered version, counting the drift histograms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import xgboost

from lakemesh.errors import ModelUnavailable
from lakemesh.ml.drift import FeatureHistograms, psi
from lakemesh.ml.features import FeatureSource, Period
from lakemesh.ml.registry import LoadedModel
from lakemesh.storage.commit import PartitionWindow

__all__ = ["DRIFT_DAYS", "Scored", "score"]

DRIFT_DAYS = 90
"""How many days up to a scored partition's end its drift is measured on (of the scored period)."""


@dataclass(frozen=True, kw_only=True)
class Scored:
    """The predictions table and the population stability index of each feature against training."""

    predictions: pa.Table
    psi: dict[str, float]


def score(
    source: FeatureSource, model: LoadedModel, *, keys: Sequence[str], within: PartitionWindow | None = None
) -> Scored:
    """Every row from the day the model's own validation began (never one it trained on, whatever the
    declaration now says), with its key and probability; with `within`, only those rows of that partition (which
    may have none: a day with no line of the held-out period).

    With `within`, drift is measured on the scored rows of the `DRIFT_DAYS` days up to its end: a day's few hundred
    lines alone would drift by chance (150 part types in 250 rows), and every scored day since validation began
    would cost more each day and hide a recent shift.
    """
    spec, encoding = source.spec, model.encoding
    period = drifting = source.since(date.fromisoformat(model.baseline["validate_from"]))
    if within is not None:
        column = ds.field(within.column)
        before_end = column < pa.scalar(within.end)
        period = Period(
            name=f"{period.name} in {within.key}",
            filter=period.filter & before_end & (column >= pa.scalar(within.first)),
        )
        recent = column >= pa.scalar(within.end - timedelta(days=DRIFT_DAYS))
        drifting = Period(name=f"{drifting.name} through {within.key}", filter=drifting.filter & before_end & recent)
        if not source.rows(period):
            schema = source.dataset.schema
            empty = {key: pa.array([], type=schema.field(key).type) for key in keys}
            empty |= {spec.score_column: pa.array([], pa.float64()), "model_version": pa.array([], pa.int64())}
            return Scored(predictions=pa.table(empty), psi={})
    if not source.rows(period):
        raise ModelUnavailable(
            f"{spec.registered_name} version {model.version}: {spec.features} version {source.version} has no rows "
            f"{period.name} to score; nothing was published"
        )
    seen = FeatureHistograms.empty(encoding, edges=model.baseline["edges"])
    parts = []
    for batch in source.batches(period, [*keys, *encoding.columns]):
        matrix = encoding.encode(batch)
        source.refuse_invalid(matrix, encoding, outcome="scored")
        if drifting is period:
            seen.add(matrix)
        rows = xgboost.DMatrix(
            matrix, feature_names=list(encoding.columns), feature_types=encoding.feature_types, enable_categorical=True
        )
        probability = model.booster.predict(rows).astype(np.float64)
        parts.append(
            pa.table(
                {
                    **{key: batch.column(key) for key in keys},
                    spec.score_column: probability,
                    "model_version": pa.array(np.full(batch.num_rows, model.version, dtype=np.int64)),
                }
            )
        )
    if drifting is not period:
        for batch in source.batches(drifting, list(encoding.columns)):
            seen.add(encoding.encode(batch))
    scored = seen.proportions()
    trained = model.baseline["proportions"]
    return Scored(
        predictions=pa.concat_tables(parts),
        psi={column: psi(trained[column], scored[column]) for column in encoding.columns},
    )
