"""Orchestration: everything that knows Dagster. Asset factories per kind of producer, resources, a domain's
Definitions, maintenance jobs and the whole-mesh run."""

from lakemesh.orchestration.definitions import declared_producers, domain_definitions
from lakemesh.orchestration.resources import LakehouseResource, SparkResource

__all__ = ["LakehouseResource", "SparkResource", "declared_producers", "domain_definitions"]
