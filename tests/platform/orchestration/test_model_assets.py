"""The model's Dagster assets: trained and registered only past its gate, predictions published like a product,
drift measured per feature, and every bad input leaving nothing registered or published."""

import json
import logging
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import xgboost
import yaml
from deltalake import DeltaTable
from lakemesh import Settings
from lakemesh.ml import TimeSplit
from lakemesh.ml.registry import ModelRegistry, close_abandoned_trainings
from lakemesh.orchestration.model_assets import DRIFT_CHECK, GATE_CHECK, model_assets
from lakemesh.orchestration.resources import LakehouseResource

from ..ml.conftest import SPLIT, declared, features_frame, publish_features

PREDICTIONS = ["shop", "predictions"]
MODEL = ["shop", "late"]


def _materialize(
    ml_project, spec, *keys: list[str], instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    here = Settings.from_env()  # the test's own project, whose contracts these are
    assets = model_assets(spec, features=ml_project["features"], predictions=ml_project["predictions"], settings=here)
    selection = [dg.AssetKey(key) for key in keys]
    resources = {"lakehouse": LakehouseResource()}
    return dg.materialize(assets, selection=selection, resources=resources, raise_on_error=False, instance=instance)


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """What the failed steps said, their errors' causes included (a LakemeshError arrives as the cause)."""
    said = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None:
            said.append(error.message)
            error = error.cause
    return "\n".join(said)


def test_a_model_past_its_gate_is_registered_and_its_predictions_published(
    settings: Settings, ml_project, tmp_path: Path
):
    frame = features_frame()
    version = publish_features(settings, ml_project["features"], frame)
    result = _materialize(ml_project, declared(), MODEL, PREDICTIONS)
    assert result.success, _failure(result)
    checks = _checks(result)
    assert checks[GATE_CHECK].passed and checks[GATE_CHECK].metadata["auc"].value > 0.9
    psi = checks[DRIFT_CHECK].metadata["psi"].value
    assert set(psi) == {"slack_days", "mode", "discount"} and all(v < 0.1 for v in psi.values())

    registry = ModelRegistry.for_settings(settings)
    [registered] = registry.versions("shop.late")
    assert registered.aliases == ("champion",) and registered.version == 1
    assert registered.tags["lakemesh.input.shop.features"] == str(version)
    assert registered.tags["lakemesh.device"] == "cpu" and registered.tags["lakemesh.dagster_run_id"] == result.run_id
    assert registered.params["feature_columns"] == "slack_days,mode,discount"
    assert registered.metrics["validation_auc"] > 0.9
    mlmodel = yaml.safe_load(
        Path(registry.client.download_artifacts(registered.run_id, "model/MLmodel", tmp_path)).read_text()
    )
    inputs = json.loads(mlmodel["signature"]["inputs"])  # MLflow's model page shows the features it takes
    assert [(i["name"], i["type"]) for i in inputs] == [(c, "float") for c in ("slack_days", "mode", "discount")]
    requirements = Path(registry.client.download_artifacts(registered.run_id, "model/requirements.txt", str(tmp_path)))
    assert f"xgboost=={xgboost.__version__}" in requirements.read_text().split()  # the serving env is pinned

    predictions = pl.read_delta(settings.table_uri("shop.predictions"))
    held_out = frame.filter(pl.col("ship_date") >= SPLIT)
    assert sorted(predictions["order_key"]) == sorted(held_out["order_key"])  # never a row it trained on
    assert predictions["model_version"].unique().to_list() == [1]
    assert predictions["late_probability"].is_between(0, 1).all()
    joined = predictions.join(held_out, on="order_key")
    assert (
        joined.group_by("is_late").agg(pl.col("late_probability").mean()).sort("is_late")["late_probability"][1] > 0.5
    )


def test_a_model_below_its_gate_is_not_registered_and_the_asset_says_why(settings: Settings, ml_project):
    publish_features(settings, ml_project["features"], features_frame())
    result = _materialize(ml_project, declared(gate={"auc": 0.9999}), MODEL)
    assert not result.success
    assert "shop.late was not registered: validation auc 0." in _failure(result) and "< 0.9999" in _failure(result)
    assert not _checks(result)[GATE_CHECK].passed
    assert ModelRegistry.for_settings(settings).models() == []


def test_cuda_asked_for_without_a_gpu_trains_on_the_cpu_and_the_registry_says_so(settings: Settings, ml_project):
    publish_features(settings, ml_project["features"], features_frame())
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(ml_project, declared(device="cuda"), MODEL, instance=instance)
    assert result.success, _failure(result)
    warned = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert any("device 'cuda' was requested but no GPU is visible: training on the CPU" in m for m in warned)
    assert ModelRegistry.for_settings(settings).versions("shop.late")[0].tags["lakemesh.device"] == "cpu"


def test_drifted_data_is_not_published_and_the_check_names_the_feature(settings: Settings, ml_project):
    contract = ml_project["features"]
    publish_features(settings, contract, features_frame(), step="v0")
    assert _materialize(ml_project, declared(), MODEL, PREDICTIONS).success
    before = DeltaTable(settings.table_uri("shop.predictions")).version()
    later = pl.concat([
        features_frame().filter(pl.col("ship_date") < SPLIT),
        features_frame(seed=3, shift=40)  # slack no longer like training's
        .filter(pl.col("ship_date") >= SPLIT)
        .with_columns(order_key=pl.col("order_key") + 1_000_000),
    ])  # fmt: skip
    publish_features(settings, contract, later, step="v1")
    result = _materialize(ml_project, declared(), PREDICTIONS)
    assert not result.success and "drifted from shop.late's training data" in _failure(result)
    drift = _checks(result)[DRIFT_CHECK]
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.ERROR
    assert drift.metadata["psi"].value["slack_days"] >= 0.25 > drift.metadata["psi"].value["mode"]
    assert DeltaTable(settings.table_uri("shop.predictions")).version() == before


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_model_artifact_publishes_no_predictions(settings: Settings, ml_project, damage: str):
    publish_features(settings, ml_project["features"], features_frame())
    assert _materialize(ml_project, declared(), MODEL).success
    artifacts = Path(settings.lakehouse) / "_mlflow" / "artifacts"
    [model_file] = [p for p in artifacts.rglob("model.*") if p.suffix in (".ubj", ".json", ".xgb")]
    if damage == "missing":
        shutil.rmtree(model_file.parent)
    else:
        model_file.write_bytes(b"\x00not a model")
    result = _materialize(ml_project, declared(), PREDICTIONS)
    assert not result.success
    assert "shop.late version 1 (@champion" in _failure(result) and "its artifact cannot be loaded" in _failure(result)
    assert not Path(settings.table_uri("shop.predictions")).exists()


def test_an_unreachable_tracking_uri_registers_nothing_and_names_it(
    settings: Settings, ml_project, monkeypatch: pytest.MonkeyPatch
):
    publish_features(settings, ml_project["features"], features_frame())
    monkeypatch.setenv("LAKEMESH_MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    result = _materialize(ml_project, declared(), MODEL)
    assert not result.success
    assert "the MLflow tracking store http://127.0.0.1:9 did not answer" in _failure(result)
    monkeypatch.delenv("LAKEMESH_MLFLOW_TRACKING_URI")
    assert not (Path(settings.lakehouse) / "_mlflow").exists() or ModelRegistry.for_settings(settings).models() == []


def test_a_retried_training_step_registers_its_model_once(settings: Settings, ml_project):
    """A step re-executed within its run (Dagster's retry keeps the run id) finds its version and trains nothing."""
    publish_features(settings, ml_project["features"], features_frame())
    here = Settings.from_env()
    assets = model_assets(
        declared(), features=ml_project["features"], predictions=ml_project["predictions"], settings=here
    )
    job = dg.Definitions(
        assets=assets, resources={"lakehouse": LakehouseResource()}
    ).resolve_implicit_global_asset_job_def()
    run_id = str(uuid.uuid4())
    first = job.execute_in_process(run_id=run_id, asset_selection=[dg.AssetKey(MODEL)], raise_on_error=False)
    again = job.execute_in_process(run_id=run_id, asset_selection=[dg.AssetKey(MODEL)], raise_on_error=False)
    assert first.success and again.success, _failure(first) + _failure(again)
    [done] = [e for e in again.get_asset_materialization_events()]
    assert done.materialization.metadata["already_registered"].value is True
    registry = ModelRegistry.for_settings(settings)
    assert [v.version for v in registry.versions("shop.late")] == [1]
    assert registry.registered_by("shop.late", tag="lakemesh.dagster_run_id", value=run_id) == 1


def test_predictions_keep_to_the_period_the_model_was_validated_on(settings: Settings, ml_project):
    """A declaration whose split moved earlier must not score rows the registered model trained on."""
    frame = features_frame()
    publish_features(settings, ml_project["features"], frame)
    assert _materialize(ml_project, declared(), MODEL).success
    earlier = declared(split=TimeSplit(column="ship_date", validate_from=date(1996, 1, 1)))
    result = _materialize(ml_project, earlier, PREDICTIONS)
    assert result.success, _failure(result)
    scored = pl.read_delta(settings.table_uri("shop.predictions"))
    assert scored.height == frame.filter(pl.col("ship_date") >= SPLIT).height


def test_a_version_whose_alias_cannot_be_set_is_not_left_registered(settings: Settings, ml_project):
    publish_features(settings, ml_project["features"], features_frame())
    assert _materialize(ml_project, declared(), MODEL).success
    registry = ModelRegistry.for_settings(settings)
    loaded = registry.load("shop.late", alias="champion")
    with pytest.raises(Exception, match="latest"):
        registry.register(
            name="shop.late",
            alias="latest",  # MLflow refuses it: after the version was created
            booster=loaded.booster,
            encoding=loaded.encoding,
            baseline=loaded.baseline,
            params={},
            metrics={},
            tags={},
            description="refused",
        )
    assert [v.version for v in registry.versions("shop.late")] == [1]


# A child process that registers the champion again and kills itself at FAULT: right after MLflow created the model
# version (before its alias), or after the alias (before the MLflow run ended).
_KILLED_REGISTRATION = textwrap.dedent(
    """
    import os, signal, sys
    from lakemesh import Settings
    from lakemesh.ml.registry import ModelRegistry, close_abandoned_trainings

    die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
    registry = ModelRegistry.for_settings(Settings.from_env())
    loaded = registry.load("shop.late", alias="champion")
    if sys.argv[1] == "before-alias":
        registry.point = die
    else:
        registry.client.set_terminated = die
    registry.register(
        name="shop.late", alias="champion", booster=loaded.booster, encoding=loaded.encoding,
        baseline=loaded.baseline, params={}, metrics={}, tags={}, description="killed",
    )
    """
)
KILL_REPETITIONS = 3


def _killed_registration(fault: str) -> None:
    child = subprocess.run([sys.executable, "-c", _KILLED_REGISTRATION, fault], capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr


def _runs_by_status(registry: ModelRegistry) -> dict[str, int]:
    experiment = registry.client.get_experiment_by_name("shop.late").experiment_id
    return dict(Counter(run.info.status for run in registry.client.search_runs([experiment])))


def test_trainings_killed_mid_registration_leave_no_run_open_and_no_version_without_its_alias(
    settings: Settings, ml_project
):
    publish_features(settings, ml_project["features"], features_frame())
    assert _materialize(ml_project, declared(), MODEL).success  # version 1, @champion
    registry = ModelRegistry.for_settings(settings)
    for _ in range(KILL_REPETITIONS):
        _killed_registration("before-alias")
    assert {v.version: v.aliases for v in registry.versions("shop.late")} == {4: (), 3: (), 2: (), 1: ("champion",)}
    assert _runs_by_status(registry) == {"FINISHED": 1, "RUNNING": KILL_REPETITIONS}

    result = _materialize(ml_project, declared(), MODEL)  # the next training closes what the killed ones left
    assert result.success, _failure(result)
    assert {v.version: v.aliases for v in registry.versions("shop.late")} == {5: ("champion",), 1: ()}
    assert _runs_by_status(registry) == {"FINISHED": 2, "FAILED": KILL_REPETITIONS}

    for _ in range(KILL_REPETITIONS):  # killed once the alias points at the version: the version stands
        _killed_registration("after-alias")
    closed = close_abandoned_trainings(settings)  # what `lakemesh catalog reconcile` does
    assert len(closed) == KILL_REPETITIONS and all("finished: version" in line for line in closed)
    assert registry.versions("shop.late")[0].version == 8 and registry.versions("shop.late")[0].aliases == ("champion",)
    assert _runs_by_status(registry) == {"FINISHED": 2 + KILL_REPETITIONS, "FAILED": KILL_REPETITIONS}
    assert close_abandoned_trainings(settings) == []  # nothing left open
