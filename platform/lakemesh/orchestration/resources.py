"""The resources every code location hands its assets: the lakehouse's settings, and Spark for Spark products."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from lakemesh.compute.spark import CONNECT_TIMEOUT, spark_session
from lakemesh.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["LakehouseResource", "SparkResource", "lakehouse_resource", "spark_resource"]


class LakehouseResource(dg.ConfigurableResource):
    """Where the lakehouse and its sidecars are: read from the environment of the process that runs the step.

    A code location is loaded once and run many times, by `lakemesh run`, `dagster dev` or a test, each with
    its own `LAKEMESH_*` variables: the step's settings are those of the process running it.
    """

    project_dir: str | None = Field(
        default=None, description="the repository (contracts, dbt project); default: LAKEMESH_PROJECT_DIR or above ."
    )

    def settings(self) -> Settings:
        return Settings.from_env(project_dir=Path(self.project_dir) if self.project_dir else None)


class SparkResource(dg.ConfigurableResource):
    """Spark for a domain's Spark products; operators set the master and conf here, never in domain code."""

    master: str | None = Field(
        default=None, description="spark://, k8s://, yarn, local[N] or sc://; default LAKEMESH_SPARK_MASTER or local[*]"
    )
    conf: dict[str, str] = Field(default_factory=dict, description="Spark conf, over LAKEMESH_SPARK_CONF")
    connect_timeout: float = Field(default=CONNECT_TIMEOUT, description="seconds to wait for the master")

    def session(self) -> SparkSession:
        return spark_session(master=self.master, conf=self.conf, connect_timeout=self.connect_timeout)


def lakehouse_resource(project_dir: Path) -> LakehouseResource:
    """One resource object per project, however its path is spelled: code locations merged into one run
    (`lakemesh run`, `Definitions.merge`) must share it."""
    return _lakehouse_resource(project_dir.resolve())


@cache
def _lakehouse_resource(project_dir: Path) -> LakehouseResource:
    return LakehouseResource(project_dir=str(project_dir))


@cache
def spark_resource() -> SparkResource:
    """One Spark resource object for every code location, for the same reason."""
    return SparkResource()
