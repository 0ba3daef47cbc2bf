"""A model declared like a product: what it learns from, what it predicts, how it is judged and watched."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from lakemesh.errors import DefinitionsInvalid
from lakemesh.settings import split_product_name

if TYPE_CHECKING:
    from lakemesh.contracts import Contract

__all__ = ["DriftThresholds", "ModelSpec", "TimeSplit", "check_declaration", "xgboost_model"]

Device = Literal["auto", "cuda", "cpu"]
GATE_METRICS = ("auc", "aucpr")
"""Validation metrics a gate may set a minimum for (XGBoost's own evaluation metrics, higher is better)."""


@dataclass(frozen=True, kw_only=True)
class TimeSplit:
    """Train on rows before `validate_from` by `column`, validate (and predict) on the rows from it on."""

    column: str
    validate_from: date


@dataclass(frozen=True, kw_only=True)
class DriftThresholds:
    """Population stability index of a feature, scored data against training data: warn at, fail at."""

    warn: float = 0.1
    fail: float = 0.25
    bins: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.warn <= self.fail or self.bins < 2:
            raise ValueError(f"drift thresholds need 0 < warn <= fail and bins >= 2, got {self}")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A declared XGBoost model of a domain: registered as `<domain>.<name>`, its predictions a product."""

    name: str
    features: str
    label: str
    feature_columns: tuple[str, ...]
    split: TimeSplit
    params: Mapping[str, Any]
    rounds: int
    gate: Mapping[str, float]
    predictions: str
    score_column: str
    alias: str = "champion"
    drift: DriftThresholds = field(default_factory=DriftThresholds)
    device: Device = "auto"
    batch_rows: int = 262_144
    """Rows per Arrow batch fed to XGBoost: what bounds the memory of reading the training set."""
    cache_mib: int = 1024
    """Encoded batches kept in memory for XGBoost's later passes; beyond it they are read from Delta again."""

    @property
    def domain(self) -> str:
        return split_product_name(self.predictions)[0]

    @property
    def registered_name(self) -> str:
        """The model's name in the registry, the catalog and Dagster: `<domain>.<name>`."""
        return f"{self.domain}.{self.name}"

    @property
    def product(self) -> str:
        """The product it publishes: its predictions."""
        return self.predictions

    @property
    def kind(self) -> str:
        return "model"

    def in_domain(self, domain: str) -> ModelSpec:
        """A model names its domain through its predictions product."""
        return self

    @property
    def reads(self) -> list[str]:
        return [self.features]

    def gate_text(self) -> str:
        """The evaluation gate as a person reads it: `auc >= 0.8, ...`."""
        return ", ".join(f"{metric} >= {minimum}" for metric, minimum in self.gate.items())

    def code_version(self) -> str:
        """Changes with any part of the declaration."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]

    def check(self, contract: Contract, *, contracts: Mapping[str, Contract]) -> None:
        check_declaration(self, features=contracts[self.features], predictions=contract)


def xgboost_model(
    *,
    name: str,
    features: str,
    label: str,
    feature_columns: Sequence[str],
    split: TimeSplit,
    params: Mapping[str, Any],
    rounds: int,
    gate: Mapping[str, float],
    predictions: str,
    score_column: str = "probability",
    alias: str = "champion",
    drift: DriftThresholds | None = None,
    device: Device = "auto",
    batch_rows: int = 262_144,
    cache_mib: int = 1024,
) -> ModelSpec:
    """Declare an XGBoost model trained on the product `features` to predict its boolean column `label`.

    `gate` maps validation metrics (`auc`, `aucpr`) to the minimum the model
    must reach on the later period of `split` to be registered; `predictions`
    is the product (`<domain>.<product>`, its contract's producer `model`):
    the features' key, `score_column` (the probability of the label) and
    `model_version`, for every row of the later period, scored by the version
    the registry's `alias` names. `device="auto"` uses a
    GPU when one is visible; `params` are XGBoost's (`tree_method` is always `hist`).
    """
    unknown = sorted(set(gate) - set(GATE_METRICS))
    if unknown or not gate:
        raise ValueError(f"model {name}: a gate sets minimums for {', '.join(GATE_METRICS)}, got {dict(gate)}")
    if any(not 0 < value <= 1 for value in gate.values()):
        raise ValueError(f"model {name}: gate minimums are in (0, 1], got {dict(gate)}")
    if not feature_columns or label in feature_columns or len(set(feature_columns)) != len(feature_columns):
        raise ValueError(f"model {name}: feature columns must be distinct, non-empty and not the label {label!r}")
    if split.column in feature_columns:
        raise ValueError(f"model {name}: the split column {split.column!r} is the model's clock, not a feature")
    if rounds < 1 or batch_rows < 1 or cache_mib < 0:
        raise ValueError(f"model {name}: rounds and batch_rows must be at least 1, cache_mib at least 0")
    if alias == "latest" or re.fullmatch(r"[vV]\d+", alias) or not re.fullmatch(r"[\w\-]+", alias):
        raise ValueError(f"model {name}: alias {alias!r} is reserved or not a name MLflow accepts")
    if device not in ("auto", "cuda", "cpu"):
        raise ValueError(f"model {name}: device is auto, cuda or cpu, got {device!r}")
    fixed = {"tree_method", "device"} & set(params)
    if fixed:
        raise ValueError(f"model {name}: {sorted(fixed)} are the platform's (hist; the device from `device=`)")
    split_product_name(features)
    split_product_name(predictions)
    return ModelSpec(
        name=name,
        features=features,
        label=label,
        feature_columns=tuple(feature_columns),
        split=split,
        params=dict(params),
        rounds=rounds,
        gate=dict(gate),
        predictions=predictions,
        score_column=score_column,
        alias=alias,
        drift=drift or DriftThresholds(),
        device=device,
        batch_rows=batch_rows,
        cache_mib=cache_mib,
    )


def check_declaration(spec: ModelSpec, *, features: Contract, predictions: Contract) -> None:
    """A model's declaration against its two contracts, when its domain loads: every declared column is there,
    of the kind training needs, and the predictions contract is the key, the score and the model version (and
    the partition column, a features column too, when the predictions are partitioned)."""
    columns = {c.name: c for c in features.columns}
    for role, names in (("feature", spec.feature_columns), ("label", [spec.label]), ("split", [spec.split.column])):
        missing = [name for name in names if name not in columns]
        if missing:
            raise DefinitionsInvalid(
                f"{spec.registered_name}: {role} column {', '.join(missing)} is not in {features.name} "
                f"(contract {features.path})"
            )
    label, clock = columns[spec.label], columns[spec.split.column]
    if label.type.kind != "boolean" or not label.required:
        raise DefinitionsInvalid(
            f"{spec.registered_name}: the label {spec.label} of {features.name} is not a required boolean"
        )
    if clock.type.kind != "date" or not clock.required:
        raise DefinitionsInvalid(
            f"{spec.registered_name}: the split column {spec.split.column} of {features.name} is not a required date"
        )
    for name in spec.feature_columns:
        if columns[name].type.kind in ("date", "timestamp", "timestamptz"):
            raise DefinitionsInvalid(
                f"{spec.registered_name}: feature {name} of {features.name} is a point in time; "
                "give the model a number (days between two dates) or a category"
            )
    expected = [*features.primary_key, spec.score_column, "model_version"]
    partitioning = predictions.partitioning
    if partitioning is not None and partitioning.column not in expected:
        if partitioning.column not in columns:
            raise DefinitionsInvalid(
                f"{predictions.name} is partitioned by {partitioning.column}, which {features.name} does not have: "
                f"the predictions are partitioned by a column of the features (contract {predictions.path})"
            )
        expected.append(partitioning.column)
    if sorted(c.name for c in predictions.columns) != sorted(expected):
        raise DefinitionsInvalid(
            f"{predictions.name}: the predictions of {spec.registered_name} have the columns {expected} "
            f"(the features' key, the score, the model version); contract {predictions.path} says "
            f"{[c.name for c in predictions.columns]}"
        )
