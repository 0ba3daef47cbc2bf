"""A declared model as Dagster assets: the model (trained, judged, registered) and its predictions product.

features product -> `<domain>.<model>` (kinds xgboost, mlflow; check `evaluation_gate`)
-> `<domain>.<predictions>` (a product like any other: its contract's checks, plus `feature_drift`).
"""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from lakemesh.contracts import Contract
from lakemesh.errors import TrainingRefused
from lakemesh.ml.spec import ModelSpec
from lakemesh.ml.steps import TrainingRun, describe_model, predict, train_and_register
from lakemesh.orchestration.partitions import step_partitions
from lakemesh.orchestration.products import (
    asset_key,
    check_specs,
    current_check_results,
    pinned_inputs,
    product_spec,
    publish_events,
)
from lakemesh.settings import Settings

__all__ = ["DRIFT_CHECK", "GATE_CHECK", "RUN_TAG", "model_assets"]

GATE_CHECK = "evaluation_gate"
DRIFT_CHECK = "feature_drift"
RUN_TAG = "lakemesh.dagster_run_id"
"""The registered version's tag naming the Dagster run that trained it: a retried step finds its version."""


def _training_asset(spec: ModelSpec, *, owner: str, features: Contract, settings: Settings) -> dg.AssetsDefinition:
    key, code_version = asset_key(spec.registered_name), spec.code_version()
    asset_spec = dg.AssetSpec(
        key=key,
        deps=[asset_key(spec.features)],
        description=describe_model(spec),
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
            dg.AssetCheckSpec(
                GATE_CHECK, asset=key, description=f"on the held-out period: {spec.gate_text()}", blocking=True
            )
        ],
        required_resource_keys={"lakehouse"},
    )
    def _train(context: AssetExecutionContext) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        run_settings: Settings = context.resources.lakehouse.settings()
        version = pinned_inputs([spec.features], settings=run_settings, reader=spec.registered_name)[spec.features]
        run = TrainingRun(run_id=context.run.run_id, job=context.run.job_name, tag=RUN_TAG)
        try:
            registered = train_and_register(
                spec, features, version=version, owner=owner, settings=run_settings, run=run, log=context.log
            )
        except TrainingRefused as refused:
            if refused.metrics:
                yield dg.AssetCheckResult(check_name=GATE_CHECK, passed=False, metadata=refused.metrics)
            raise dg.Failure(description=str(refused), metadata=dict(refused.metrics)) from None
        trained = registered.trained
        if trained is None:  # a retried step: its model is registered already, once is enough
            yield dg.AssetCheckResult(
                check_name=GATE_CHECK, passed=True, metadata={"model_version": registered.version}
            )
            yield dg.MaterializeResult(metadata={"model_version": registered.version, "already_registered": True})
            return
        yield dg.AssetCheckResult(check_name=GATE_CHECK, passed=True, metadata=trained.metrics)
        yield dg.MaterializeResult(
            metadata={
                "model_version": registered.version,
                "alias": spec.alias,
                "device": trained.device,
                **{f"validation_{k}": round(v, 5) for k, v in trained.metrics.items()},
                "training_rows": trained.training_rows,
                "validation_rows": trained.validation_rows,
                "inputs": dg.MetadataValue.json({spec.features: version}),
                "training_digest": trained.digest,
                "tracking_uri": registered.tracking_uri,
            }
        )

    return _train


def _predictions_asset(
    spec: ModelSpec, *, features: Contract, contract: Contract, settings: Settings
) -> dg.AssetsDefinition:
    drift = spec.drift
    drift_check = dg.AssetCheckSpec(
        DRIFT_CHECK,
        asset=asset_key(contract.name),
        description=f"population stability index of each feature, scored vs training: warn >= {drift.warn}, "
        f"fail (nothing published) >= {drift.fail}",
    )
    product = product_spec(
        contract,
        settings=settings,
        deps=[spec.features, spec.registered_name],
        inputs={spec.features: features},
        kinds={"xgboost", "mlflow"},
    )

    @dg.multi_asset(
        name=f"{contract.domain}__{contract.product}",
        specs=[product.replace_attributes(code_version=spec.code_version())],
        check_specs=[*check_specs(contract), drift_check],
        can_subset=True,
        required_resource_keys={"lakehouse"},
        backfill_policy=dg.BackfillPolicy.single_run() if contract.partitioning else None,  # a range: one commit
    )
    def _predict(context: AssetExecutionContext) -> Iterator[Any]:
        run_settings: Settings = context.resources.lakehouse.settings()
        if not context.selected_asset_keys:
            yield from current_check_results(context, contract, settings=run_settings)
            return
        version = pinned_inputs([spec.features], settings=run_settings, reader=contract.name)[spec.features]
        prediction = predict(
            spec,
            features,
            version=version,
            settings=run_settings,
            predictions=contract,
            partitions=step_partitions(context, contract),
        )
        worst = max(prediction.psi.values(), default=0.0)
        severity = dg.AssetCheckSeverity.ERROR if worst >= drift.fail else dg.AssetCheckSeverity.WARN
        drifted = {c: round(v, 4) for c, v in prediction.psi.items() if v >= drift.warn}
        yield dg.AssetCheckResult(
            check_name=DRIFT_CHECK,
            passed=worst < drift.warn,
            severity=severity,
            metadata={
                "psi": dg.MetadataValue.json({c: round(v, 5) for c, v in prediction.psi.items()}),
                "max_psi": round(worst, 5),
                "drifted": dg.MetadataValue.json(drifted),
                "model_version": prediction.model_version,
            },
        )
        if worst >= drift.fail:
            raise dg.Failure(
                description=f"{contract.name}: not published, the scored data drifted from {spec.registered_name}'s "
                f"training data (PSI >= {drift.fail}): {json.dumps(drifted)}",
                metadata={"psi": dg.MetadataValue.json(prediction.psi)},
            )
        yield from publish_events(context, prediction.build, contract=contract, settings=run_settings)

    return _predict


def model_assets(
    spec: ModelSpec, *, features: Contract, predictions: Contract, settings: Settings
) -> list[dg.AssetsDefinition]:
    """The model's training asset and its predictions product, from its declaration and the two contracts."""
    return [
        _training_asset(spec, owner=predictions.owner, features=features, settings=settings),
        _predictions_asset(spec, features=features, contract=predictions, settings=settings),
    ]
