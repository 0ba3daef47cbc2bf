"""A declared model's two steps: train and register it, then score the held-out period as its predictions.

Each step reads the features product at the version pinned for it. Training
registers the model only past its evaluation gate, once per run (a retried step
finds its version); scoring loads the registered model, measures the drift of
the scored data from the training data and builds the predictions product,
which the platform publishes through its contract like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import polars as pl

from lakemesh.contracts import Contract
from lakemesh.errors import ModelUnavailable, TrainingRefused, in_one_line
from lakemesh.lineage import InputRef, LineageEmitter
from lakemesh.ml.device import choose_device
from lakemesh.ml.features import FeatureSource
from lakemesh.ml.lineage import TrainingLineage, model_dataset
from lakemesh.ml.registry import CODE_VERSION_TAG, ModelRegistry
from lakemesh.ml.scoring import score
from lakemesh.ml.spec import ModelSpec
from lakemesh.ml.training import TrainedModel, train_model
from lakemesh.producers import ProductBuild
from lakemesh.settings import Settings
from lakemesh.storage.commit import PartitionWindow

__all__ = ["Prediction", "Registration", "TrainingRun", "describe_model", "predict", "train_and_register"]


def describe_model(spec: ModelSpec) -> str:
    """What the model predicts from what, and when it is registered: its description everywhere."""
    return (
        f"XGBoost model predicting {spec.label} from {spec.features}: trained on {spec.split.column} before "
        f"{spec.split.validate_from}, registered as {spec.registered_name}@{spec.alias} only if, from then on, "
        f"{spec.gate_text()}."
    )


@dataclass(frozen=True, kw_only=True)
class TrainingRun:
    """The orchestrator's run that trains a model: a retried step finds the version its run registered by `tag`."""

    run_id: str
    job: str
    tag: str
    """The registered version's tag whose value is `run_id`."""


@dataclass(frozen=True, kw_only=True)
class Registration:
    """The model version a training step registered (or found registered by an earlier attempt of its run)."""

    version: int
    trained: TrainedModel | None
    """None when an earlier attempt of the same run had registered `version`: nothing was trained."""
    tracking_uri: str


def train_and_register(
    spec: ModelSpec,
    features: Contract,
    *,
    version: int,
    owner: str,
    settings: Settings,
    run: TrainingRun,
    log: logging.Logger,
) -> Registration:
    """Train on `features` at `version` and register the model if it passes its gate; raises `TrainingRefused`.

    `owner` is the team that owns the model (its predictions' owner), as its lineage names it."""
    registry = ModelRegistry.for_settings(settings)
    registry.check_reachable()
    done = registry.registered_by(spec.registered_name, tag=run.tag, value=run.run_id)
    if done is not None:  # a retried step: its model is registered already, once is enough
        log.info(f"{spec.registered_name}: version {done} was registered by this run already")
        registry.point(spec.registered_name, alias=spec.alias, version=done)
    for closed in registry.close_abandoned(spec.registered_name):  # what killed trainings left open
        log.warning(closed)
    if done is not None:
        return Registration(version=done, trained=None, tracking_uri=registry.uri)
    description = describe_model(spec)
    lineage = TrainingLineage(
        LineageEmitter.for_settings(settings),
        model=spec.registered_name,
        owner=owner,
        description=description,
        tracking_uri=registry.uri,
        features=InputRef.of_product(spec.features, settings=settings, version=version),
        parent_run_id=run.run_id,
        parent_job=run.job,
    )
    lineage.start()
    try:
        device, fallback = choose_device(spec.device)
        if fallback:
            log.warning(f"{spec.registered_name}: {fallback}")
        trained = train_model(FeatureSource.open(spec, features, version=version, settings=settings), device=device)
        log.info(f"{spec.registered_name}: trained on {trained.device}, validation {trained.metrics}")
        below = trained.failed_gate(dict(spec.gate))
        if below:
            raise TrainingRefused(
                f"{spec.registered_name} was not registered: {'; '.join(below)} "
                f"(trained on {spec.features} version {version}, {trained.training_rows} rows)",
                metrics=trained.metrics,
            )
        registered = registry.register(
            name=spec.registered_name,
            alias=spec.alias,
            booster=trained.booster,
            encoding=trained.encoding,
            baseline=trained.baseline,
            params={
                **{f"xgboost.{k}": v for k, v in trained.params.items()},
                "rounds": spec.rounds,
                "features": spec.features,
                "feature_columns": ",".join(spec.feature_columns),
                "label": spec.label,
                "split": f"{spec.split.column} < {spec.split.validate_from}",
            },
            metrics={
                **{f"validation_{k}": v for k, v in trained.metrics.items()},
                "training_rows": trained.training_rows,
                "held_out_rows": trained.validation_rows,
            },
            tags={
                f"lakemesh.input.{spec.features}": str(version),
                run.tag: run.run_id,
                "lakemesh.device": trained.device,
                "lakemesh.training_digest": trained.digest,
                CODE_VERSION_TAG: spec.code_version(),
            },
            description=description,
        )
    except TrainingRefused as refused:
        lineage.fail(str(refused), metrics=refused.metrics)
        raise
    except BaseException as error:
        lineage.fail(in_one_line(error))
        raise
    lineage.complete(version=registered)
    return Registration(version=registered, trained=trained, tracking_uri=registry.uri)


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """The scored held-out period as the predictions product, and how far the scored data drifted."""

    build: ProductBuild
    psi: dict[str, float]
    """Population stability index of each feature, scored data against the training data."""
    model_version: int


def predict(
    spec: ModelSpec,
    features: Contract,
    *,
    version: int,
    settings: Settings,
    predictions: Contract | None = None,
    partitions: tuple[str, str] | None = None,
) -> Prediction:
    """Score `features` at `version` with the model registered under the spec's alias: with `partitions` (first and
    last key of the partitioned `predictions`), only the features rows of those partitions."""
    registry = ModelRegistry.for_settings(settings)
    registry.check_reachable()
    model = registry.load(spec.registered_name, alias=spec.alias)
    source = FeatureSource.open(spec, features, version=version, settings=settings)
    missing = sorted(set(model.encoding.columns) - set(source.dataset.schema.names))
    if missing:
        raise ModelUnavailable(
            f"{spec.registered_name} version {model.version} needs {missing}, not in {spec.features} v{version}"
        )
    keys, within = list(features.primary_key), None
    partitioning = predictions.partitioning if predictions is not None else None
    if partitioning is not None:
        keys += [] if partitioning.column in keys else [partitioning.column]
        within = PartitionWindow.of(partitioning, partitions) if partitions is not None else None
    scored = score(source, model, keys=keys, within=within)
    build = ProductBuild(
        data=pl.from_arrow(scored.predictions),
        inputs={spec.features: version},
        code_version=spec.code_version(),
        extra_inputs=[model_dataset(spec.registered_name, tracking_uri=registry.uri, version=model.version)],
    )
    return Prediction(build=build, psi=dict(scored.psi), model_version=model.version)
