"""The MLflow Model Registry as the platform's model store: log, register, alias, load.

By default an embedded SQLite tracking store in the lakehouse
(`<lakehouse>/_mlflow/mlflow.db`, artifacts beside it); `LAKEMESH_MLFLOW_TRACKING_URI`
names any other (an MLflow server, PostgreSQL...). Everything goes through an
explicit `MlflowClient`: no process-wide MLflow state is set.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakemesh.errors import ModelUnavailable, RegistryUnavailable, first_line, in_one_line
from lakemesh.ml.features import Encoding
from lakemesh.processes import process_exited
from lakemesh.settings import Settings

__all__ = [
    "CODE_VERSION_TAG",
    "LoadedModel",
    "ModelRegistry",
    "RegisteredVersion",
    "close_abandoned_trainings",
    "tracking_uri",
]

TRACKING_URI_ENV = "LAKEMESH_MLFLOW_TRACKING_URI"
ARTIFACTS_ENV = "LAKEMESH_MLFLOW_ARTIFACTS"
HOST_TAG = "lakemesh.host"
PID_TAG = "lakemesh.pid"
"""Tags of a training's MLflow run: the process that runs it, so a run whose process is gone can be closed."""
ALIASED_TAG = "lakemesh.aliased"
CODE_VERSION_TAG = "lakemesh.code_version"
"""A registered version's tag: the code version of the declaration that trained it."""
"""Tag of a model version once its alias pointed at it: it stays when a newer version takes the alias."""
_ENCODING = "lakemesh/encoding.json"
_BASELINE = "lakemesh/drift_baseline.json"


def _configured() -> str | None:
    return os.environ.get(TRACKING_URI_ENV) or None


_CREATED: set[str] = set()
"""The default SQLite stores this process has seen created (their tables exist from then on)."""


def tracking_uri(settings: Settings) -> str:
    """`LAKEMESH_MLFLOW_TRACKING_URI`, else the SQLite store in a local lakehouse."""
    if given := _configured():
        return given
    if "://" in settings.lakehouse and not settings.lakehouse.startswith("file://"):
        raise RegistryUnavailable(
            f"the lakehouse {settings.lakehouse} is not local, so it cannot hold the default SQLite model registry: "
            f"set {TRACKING_URI_ENV} (an MLflow server or database URI)"
        )
    return f"sqlite:///{_registry_dir(settings) / 'mlflow.db'}"


def _registry_dir(settings: Settings) -> Path:
    return Path(settings.lakehouse.removeprefix("file://")).resolve() / "_mlflow"


def _signature(encoding: Encoding) -> Any:
    """What the booster takes and gives, for MLflow's model page: one float32 column per feature (categories as
    their codes), in the encoding's order, and the probability of the label."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("float", column) for column in encoding.columns])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", "probability")]))


def close_abandoned_trainings(settings: Settings) -> list[str]:
    """`ModelRegistry.close_abandoned` for every model of the configured registry (none when the default
    registry was never created)."""
    uri = tracking_uri(settings)
    if _configured() is None and not Path(uri.removeprefix("sqlite:///")).exists():
        return []
    registry = ModelRegistry.for_settings(settings)
    experiments = registry.client.search_experiments()
    return [line for e in experiments if e.name != "Default" for line in registry.close_abandoned(e.name)]


@dataclass(frozen=True, kw_only=True)
class RegisteredVersion:
    """One registered version, as `lakemesh models` shows it."""

    name: str
    version: int
    aliases: tuple[str, ...]
    run_id: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    created: int


@dataclass(frozen=True, kw_only=True)
class LoadedModel:
    """A registered version ready to score: its booster, its encoding and its training histograms."""

    name: str
    version: int
    booster: Any
    encoding: Encoding
    baseline: dict[str, Any]


class ModelRegistry:
    """One MLflow tracking store and model registry."""

    def __init__(self, uri: str, *, artifact_root: str | None = None) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.artifact_root = artifact_root
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    @classmethod
    def for_settings(cls, settings: Settings) -> ModelRegistry:
        """The configured store; artifacts beside a database store go to `LAKEMESH_MLFLOW_ARTIFACTS`, else to
        `<lakehouse>/_mlflow/artifacts` (a server keeps its own), so every process finds them."""
        uri = tracking_uri(settings)
        if uri.startswith(("http://", "https://", "databricks")):
            return cls(uri)
        root = os.environ.get(ARTIFACTS_ENV) or None
        if root is None and ("://" not in settings.lakehouse or settings.lakehouse.startswith("file://")):
            root = (_registry_dir(settings) / "artifacts").as_uri()
        if not uri.startswith("sqlite:///") or _configured() is not None or uri in _CREATED:
            return cls(uri, artifact_root=root)
        folder = _registry_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
        # MLflow creates a new store's tables when a client first opens it; two runs starting at once would both
        # try, and one fail ("table ... already exists"): the first creates them while the others wait
        try:
            lock = os.open(folder / "mlflow.db.migrate.lock", os.O_RDONLY | os.O_CREAT, 0o666)
        except OSError:  # a registry this process may only read: whoever could write it created it
            lock = None
        try:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            registry = cls(uri, artifact_root=root)
            registry.client.search_experiments(max_results=1)
            registry.client.search_registered_models(max_results=1)
        finally:
            if lock is not None:
                os.close(lock)
        _CREATED.add(uri)
        return registry

    def check_reachable(self, *, timeout: float = 10.0) -> None:
        """Fail fast, naming the URI, when the store does not answer (MLflow itself would retry for minutes)."""
        try:
            if self.uri.startswith(("http://", "https://")):
                with urllib.request.urlopen(f"{self.uri.rstrip('/')}/health", timeout=timeout) as answer:
                    answer.read()
            else:
                self.client.search_registered_models(max_results=1)
        except Exception as error:  # any failure to answer: unreachable, whatever the store
            raise RegistryUnavailable(
                f"the MLflow tracking store {self.uri} did not answer ({in_one_line(error)}); nothing was registered"
            ) from error

    def _experiment(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = f"{self.artifact_root}/{name}" if self.artifact_root else None
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except MlflowException as error:  # another process created it first
            if (found := self.client.get_experiment_by_name(name)) is None:
                raise error from None
            return found.experiment_id

    def point(self, name: str, *, alias: str, version: int) -> None:
        """Point `alias` at `version`, and tag the version as aliased (idempotent)."""
        self.client.set_registered_model_alias(name, alias, str(version))
        self.client.set_model_version_tag(name, str(version), ALIASED_TAG, alias)

    def register(
        self,
        *,
        name: str,
        alias: str,
        booster: Any,
        encoding: Encoding,
        baseline: Mapping[str, Any],
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        description: str,
    ) -> int:
        """Log the booster in MLflow's XGBoost format with everything about it, register it, point `alias` at it."""
        import mlflow.xgboost
        from mlflow.entities import Metric, Param
        from mlflow.exceptions import MlflowException

        experiment = self._experiment(name)
        process = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
        run = self.client.create_run(experiment, tags={**tags, **process}, run_name=f"{name} training")
        run_id = run.info.run_id
        try:
            now = run.info.start_time
            self.client.log_batch(
                run_id,
                metrics=[Metric(key=k, value=float(v), timestamp=now, step=0) for k, v in metrics.items()],
                params=[Param(key=k, value=str(v)[:6000]) for k, v in params.items()],
            )
            with tempfile.TemporaryDirectory() as scratch:
                model_dir = Path(scratch) / "model"
                # the flavor's own requirements (xgboost, pinned): inferring them loads the model in a child
                # process, six seconds a model
                requirements = mlflow.xgboost.get_default_pip_requirements()
                mlflow.xgboost.save_model(
                    booster, str(model_dir), pip_requirements=requirements, signature=_signature(encoding)
                )
                self.client.log_artifacts(run_id, str(model_dir), "model")
            self.client.log_text(run_id, encoding.to_json(), _ENCODING)
            self.client.log_dict(run_id, dict(baseline), _BASELINE)
            try:
                self.client.create_registered_model(name, description=description)
            except MlflowException as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            version = self.client.create_model_version(
                name, source=f"{run.info.artifact_uri}/model", run_id=run_id, tags=dict(tags), description=description
            )
            try:
                self.point(name, alias=alias, version=int(version.version))
            except BaseException:
                self.client.delete_model_version(name, version.version)  # no version without its alias
                raise
        except BaseException:
            self.client.set_terminated(run_id, status="FAILED")
            raise
        self.client.set_terminated(run_id)
        return int(version.version)

    def close_abandoned(self, name: str) -> list[str]:
        """End the training runs of model `name` left RUNNING by a process that is gone from this host (killed).

        A run whose version got its alias (it still has it, or is tagged `lakemesh.aliased`) was killed after
        registering: it is FINISHED. Any other version it registered never got its alias, and is deleted (no
        version without its alias); the run is FAILED. Returns what was done, one line per run.
        """
        from mlflow.exceptions import MlflowException

        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            return []
        try:
            aliased = set(self.client.get_registered_model(name).aliases.values())
            registered = True
        except MlflowException:  # killed before the model itself was registered
            aliased, registered = set(), False
        here, done = socket.gethostname(), []
        for run in self.client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'"):
            tags, run_id = run.data.tags, run.info.run_id
            pid = tags.get(PID_TAG, "")
            if tags.get(HOST_TAG) != here or not pid.isdigit() or not process_exited(int(pid)):
                continue  # alive, elsewhere, or not the platform's
            found = self.client.search_model_versions(f"run_id = '{run_id}'") if registered else []
            versions = {int(v.version): v for v in found}
            numbers = sorted(versions)
            gone = f"{name}: training run {run_id} (process {pid} on {here} is gone)"
            if kept := [str(n) for n in numbers if str(n) in aliased or ALIASED_TAG in versions[n].tags]:
                self.client.set_terminated(run_id, status="FINISHED")
                done.append(f"{gone} finished: version {', '.join(kept)} has its alias")
                continue
            for number in numbers:
                self.client.delete_model_version(name, str(number))
            self.client.set_terminated(run_id, status="FAILED")
            removed = f", version {', '.join(map(str, numbers))} never aliased and removed"
            done.append(f"{gone} failed{removed if versions else ''}")
        return done

    def registered_by(self, name: str, *, tag: str, value: str) -> int | None:
        """The version of `name` registered with `tag` = `value` (a step's run id), if any: a retried step's."""
        if not self._exists(name):
            return None
        found = self.client.search_model_versions(f"name = '{name}' and tags.`{tag}` = '{value}'")
        return max((int(v.version) for v in found), default=None)

    def last_registered(self, name: str) -> float | None:
        """When the newest version of `name` was registered (seconds since the epoch); None when none is."""
        if not self._exists(name):
            return None
        found = self.client.search_model_versions(f"name = '{name}'")
        return max((int(v.creation_timestamp) / 1000 for v in found), default=None)

    def load(self, name: str, *, alias: str) -> LoadedModel:
        """The version `alias` names, loaded; a missing alias or a missing or corrupt artifact is `ModelUnavailable`."""
        import mlflow.xgboost
        from mlflow.exceptions import MlflowException

        try:
            version = self.client.get_model_version_by_alias(name, alias)
        except MlflowException as error:
            raise ModelUnavailable(
                f"{name}@{alias}: no such registered version in {self.uri} ({first_line(error)[:200]}); "
                "train and register the model first"
            ) from error
        where = f"{name} version {version.version} (@{alias}, {version.source})"
        try:
            with tempfile.TemporaryDirectory() as scratch:
                booster = mlflow.xgboost.load_model(version.source, dst_path=scratch)
                self.client.download_artifacts(version.run_id, "lakemesh", scratch)
                encoding = Encoding.from_json((Path(scratch) / _ENCODING).read_text())
                baseline = json.loads((Path(scratch) / _BASELINE).read_text())
        except Exception as error:  # whatever broke the artifact, the model cannot score
            raise ModelUnavailable(
                f"{where}: its artifact cannot be loaded ({in_one_line(error)}); nothing was scored"
            ) from error
        return LoadedModel(
            name=name, version=int(version.version), booster=booster, encoding=encoding, baseline=baseline
        )

    def models(self) -> list[str]:
        """Every registered model's name (all pages of the search)."""
        names, token = [], None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            names += [model.name for model in page]
            if not (token := page.token):
                return sorted(names)

    def _exists(self, name: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            return False
        return True

    def versions(self, name: str) -> list[RegisteredVersion]:
        """Every registered version of `name`, newest first, with its run's metrics, params and tags."""
        found = self.client.search_model_versions(f"name = '{name}'")
        aliases = self.client.get_registered_model(name).aliases  # a search leaves versions' aliases out
        shown = []
        for version in sorted(found, key=lambda v: int(v.version), reverse=True):
            run = self.client.get_run(version.run_id)
            shown.append(
                RegisteredVersion(
                    name=name,
                    version=int(version.version),
                    aliases=tuple(sorted(a for a, v in aliases.items() if int(v) == int(version.version))),
                    run_id=version.run_id,
                    metrics=dict(run.data.metrics),
                    params=dict(run.data.params),
                    tags={k: v for k, v in version.tags.items()},
                    created=int(version.creation_timestamp),
                )
            )
        return shown
