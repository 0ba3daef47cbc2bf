"""OpenLineage events of a training run: the feature product at its pinned version in, the registered model out.

The model is a dataset of its registry (namespace: the tracking URI, name: the
registered model's name, version: the registered version, OpenLineage dataset
type `MODEL`), so the catalog shows it, as a model, between the features it
was trained on and the predictions it makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    dataset_type_dataset,
    dataset_version_dataset,
    documentation_dataset,
    error_message_run,
    job_type_job,
    ownership_dataset,
)
from openlineage.client.uuid import generate_new_uuid

from lakemesh.lineage import JOB_NAMESPACE, PLATFORM_PRODUCER, InputRef, LineageEmitter, parent_run_facet
from lakemesh.lineage.process import PROCESS_FACET, ProcessRunFacet

__all__ = ["TrainingLineage", "model_dataset"]


def model_dataset(name: str, *, tracking_uri: str, version: int | None = None) -> InputRef:
    """A registered model as a dataset (as an input of the runs that score with it)."""
    return InputRef(namespace=tracking_uri, name=name, version=None if version is None else str(version))


class TrainingLineage:
    """START, then COMPLETE (with the registered version) or FAIL, for one training run of one model."""

    def __init__(
        self,
        emitter: LineageEmitter,
        *,
        model: str,
        owner: str,
        description: str,
        tracking_uri: str,
        features: InputRef,
        parent_run_id: str,
        parent_job: str,
    ) -> None:
        self.emitter = emitter
        self.model, self.owner, self.description, self.tracking_uri = model, owner, description, tracking_uri
        self.features = features
        self.run_id = str(generate_new_uuid())
        self._parent = parent_run_facet(parent_run_id, parent_job)

    def _event(
        self,
        state: RunState,
        *,
        version: int | None = None,
        error: str | None = None,
        process: ProcessRunFacet | None = None,
    ) -> RunEvent:
        facets: dict = {"parent": self._parent, **({PROCESS_FACET: process} if process else {})}
        if error is not None:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=error, programmingLanguage="python")
        output = {
            "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(datasetType="MODEL"),
            "documentation": documentation_dataset.DocumentationDatasetFacet(description=self.description),
            "ownership": ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner(name=f"team:{self.owner}", type="OWNER")]
            ),
        }
        if version is not None:
            output["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(version))
        kind = job_type_job.JobTypeJobFacet(processingType="BATCH", integration="LAKEMESH", jobType="MODEL_TRAINING")
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=self.run_id, facets=facets),
            job=Job(namespace=JOB_NAMESPACE, name=self.model, facets={"jobType": kind}),
            producer=PLATFORM_PRODUCER,
            inputs=[self.features.to_openlineage()],
            outputs=[OutputDataset(namespace=self.tracking_uri, name=self.model, facets=output)],
        )

    def start(self) -> None:
        self.emitter.emit(self._event(RunState.START, process=ProcessRunFacet.here()))

    def complete(self, *, version: int) -> None:
        self.emitter.emit(self._event(RunState.COMPLETE, version=version))

    def fail(self, message: str, *, metrics: Mapping[str, float] | None = None) -> None:
        shown = f"{message} (metrics: {dict(metrics)})" if metrics else message
        self.emitter.emit(self._event(RunState.FAIL, error=shown))
