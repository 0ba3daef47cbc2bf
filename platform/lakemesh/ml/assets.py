"""A declared model as Dagster assets: the model (trained, judged, registered) and its predictions product.

features product -> `<domain>.<model>` (kinds xgboost, mlflow; check `evaluation_gate`)
-> `<domain>.<predictions>` (a product like any other: its contract's checks, plus `feature_drift`).
"""

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl
from dagster import AssetExecutionContext

from lakemesh.contracts import Contract
from lakemesh.errors import ModelUnavailable, TrainingRefused, in_one_line
from lakemesh.lineage import InputRef, LineageEmitter
from lakemesh.ml.device import choose_device
from lakemesh.ml.features import FeatureSource
from lakemesh.ml.lineage import TrainingLineage, model_dataset
from lakemesh.ml.registry import ModelRegistry
from lakemesh.ml.scoring import score
from lakemesh.ml.spec import ModelSpec
from lakemesh.ml.training import train_model
from lakemesh.orchestration.assets import (
    asset_key,
    check_specs,
    current_check_results,
    pin_inputs,
    product_spec,
    publish_events,
)
from lakemesh.settings import Settings

__all__ = ["DRIFT_CHECK", "GATE_CHECK", "model_assets"]

GATE_CHECK = "evaluation_gate"
RUN_TAG = "lakemesh.dagster_run_id"
DRIFT_CHECK = "feature_drift"


def _code_version(spec: ModelSpec) -> str:
    return hashlib.sha256(repr(spec).encode()).hexdigest()[:16]


def _training_asset(spec: ModelSpec, *, features: Contract, owner: str, settings: Settings) -> dg.AssetsDefinition:
    key, code_version = asset_key(spec.registered_name), _code_version(spec)
    gate = ", ".join(f"{metric} >= {minimum}" for metric, minimum in spec.gate.items())
    description = (
        f"XGBoost model predicting {spec.label} from {spec.features}: trained on {spec.split.column} before "
        f"{spec.split.validate_from}, registered as {spec.registered_name}@{spec.alias} only if, from then on, {gate}."
    )
    asset_spec = dg.AssetSpec(
        key=key,
        deps=[asset_key(spec.features)],
        description=description,
        owners=[f"team:{owner}"],
        group_name=spec.domain,
        kinds={"xgboost", "mlflow"},
        metadata={
            "features": spec.features,
            "label": spec.label,
            "feature_columns": list(spec.feature_columns),
            "split": f"{spec.split.column} < {spec.split.validate_from} trains, the rest validates",
            "gate": dict(spec.gate),
            "params": dg.MetadataValue.json(dict(spec.params)),
        },
        code_version=code_version,
    )

    @dg.multi_asset(
        name=f"{spec.domain}__{spec.name}",
        specs=[asset_spec],
        check_specs=[
            dg.AssetCheckSpec(GATE_CHECK, asset=key, description=f"on the held-out period: {gate}", blocking=True)
        ],
    )
    def _train(context: AssetExecutionContext) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        run_settings = Settings.from_env(project_dir=settings.project_dir)
        version = pin_inputs([spec.features], settings=run_settings, reader=spec.registered_name)[spec.features]
        registry = ModelRegistry.for_settings(run_settings)
        registry.check_reachable()
        done = registry.registered_by(spec.registered_name, tag=RUN_TAG, value=context.run.run_id)
        if done is not None:  # a retried step: its model is registered already, once is enough
            context.log.info(f"{spec.registered_name}: version {done} was registered by this run already")
            registry.point(spec.registered_name, alias=spec.alias, version=done)
            yield dg.AssetCheckResult(check_name=GATE_CHECK, passed=True, metadata={"model_version": done})
            yield dg.MaterializeResult(metadata={"model_version": done, "already_registered": True})
            return
        lineage = TrainingLineage(
            LineageEmitter.for_settings(run_settings),
            model=spec.registered_name,
            description=description,
            tracking_uri=registry.uri,
            features=InputRef.of_product(spec.features, settings=run_settings, version=version),
            parent_run_id=context.run.run_id,
            parent_job=context.run.job_name,
        )
        lineage.start()
        try:
            device, fallback = choose_device(spec.device)
            if fallback:
                context.log.warning(f"{spec.registered_name}: {fallback}")
            source = FeatureSource.open(spec, features, version=version, settings=run_settings)
            trained = train_model(source, device=device)
            context.log.info(f"{spec.registered_name}: trained on {trained.device}, validation {trained.metrics}")
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
                    RUN_TAG: context.run.run_id,
                    "lakemesh.device": trained.device,
                    "lakemesh.training_digest": trained.digest,
                    "lakemesh.code_version": code_version,
                },
                description=description,
            )
        except TrainingRefused as refused:
            lineage.fail(str(refused), metrics=refused.metrics)
            if refused.metrics:
                yield dg.AssetCheckResult(check_name=GATE_CHECK, passed=False, metadata=refused.metrics)
            raise dg.Failure(description=str(refused), metadata=dict(refused.metrics)) from None
        except BaseException as error:
            lineage.fail(in_one_line(error))
            raise
        lineage.complete(version=registered)
        yield dg.AssetCheckResult(check_name=GATE_CHECK, passed=True, metadata=trained.metrics)
        yield dg.MaterializeResult(
            metadata={
                "model_version": registered,
                "alias": spec.alias,
                "device": trained.device,
                **{f"validation_{k}": round(v, 5) for k, v in trained.metrics.items()},
                "training_rows": trained.training_rows,
                "validation_rows": trained.validation_rows,
                "inputs": dg.MetadataValue.json({spec.features: version}),
                "training_digest": trained.digest,
                "tracking_uri": registry.uri,
            }
        )

    return _train


def _predictions_asset(
    spec: ModelSpec, *, features: Contract, contract: Contract, settings: Settings
) -> dg.AssetsDefinition:
    drift, code_version = spec.drift, _code_version(spec)
    drift_check = dg.AssetCheckSpec(
        DRIFT_CHECK,
        asset=asset_key(contract.name),
        description=f"population stability index of each feature, scored vs training: warn >= {drift.warn}, "
        f"fail (nothing published) >= {drift.fail}",
    )
    product = product_spec(
        contract, settings=settings, deps=[spec.features, spec.registered_name], kinds={"xgboost", "mlflow"}
    )

    @dg.multi_asset(
        name=f"{contract.domain}__{contract.product}",
        specs=[product.replace_attributes(code_version=code_version)],
        check_specs=[*check_specs(contract), drift_check],
        can_subset=True,
    )
    def _predict(context: AssetExecutionContext) -> Iterator[Any]:
        run_settings = Settings.from_env(project_dir=settings.project_dir)
        if not context.selected_asset_keys:
            yield from current_check_results(context, contract, settings=run_settings)
            return
        version = pin_inputs([spec.features], settings=run_settings, reader=contract.name)[spec.features]
        registry = ModelRegistry.for_settings(run_settings)
        registry.check_reachable()
        model = registry.load(spec.registered_name, alias=spec.alias)
        source = FeatureSource.open(spec, features, version=version, settings=run_settings)
        missing = sorted(set(model.encoding.columns) - set(source.dataset.schema.names))
        if missing:
            raise ModelUnavailable(
                f"{spec.registered_name} version {model.version} needs {missing}, not in {spec.features} v{version}"
            )
        scored = score(source, model, keys=features.primary_key)
        worst = max(scored.psi.values(), default=0.0)
        severity = dg.AssetCheckSeverity.ERROR if worst >= drift.fail else dg.AssetCheckSeverity.WARN
        drifted = {c: round(v, 4) for c, v in scored.psi.items() if v >= drift.warn}
        yield dg.AssetCheckResult(
            check_name=DRIFT_CHECK,
            passed=worst < drift.warn,
            severity=severity,
            metadata={
                "psi": dg.MetadataValue.json({c: round(v, 5) for c, v in scored.psi.items()}),
                "max_psi": round(worst, 5),
                "drifted": dg.MetadataValue.json(drifted),
                "model_version": model.version,
            },
        )
        if worst >= drift.fail:
            raise dg.Failure(
                description=f"{contract.name}: not published, the scored data drifted from {spec.registered_name}'s "
                f"training data (PSI >= {drift.fail}): {json.dumps(drifted)}",
                metadata={"psi": dg.MetadataValue.json(scored.psi)},
            )
        yield from publish_events(
            context,
            pl.from_arrow(scored.predictions),
            contract=contract,
            settings=run_settings,
            code_version=code_version,
            inputs={spec.features: version},
            extra_inputs=[model_dataset(spec.registered_name, tracking_uri=registry.uri, version=model.version)],
        )

    return _predict


def model_assets(
    spec: ModelSpec, *, features: Contract, predictions: Contract, settings: Settings
) -> list[dg.AssetsDefinition]:
    """The model's training asset and its predictions product, from its declaration and the two contracts."""
    return [
        _training_asset(spec, features=features, owner=predictions.owner, settings=settings),
        _predictions_asset(spec, features=features, contract=predictions, settings=settings),
    ]
