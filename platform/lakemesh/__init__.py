"""Lakemesh: contract-guarded Delta Lake data products from Dagster assets and dbt models.

The public API: declare producers (`data_product`), build a domain's Dagster
code location (`domain_definitions`), publish through the one gated path
(`publish`), read products back (`read`), and the errors a user tells apart.

Every name but the errors is imported on first use, so the CLI, the catalog server and a
consumer's `lakemesh.read` start without Dagster and dbt, which take seconds. `ContractViolation`
carries the gate's report, so it lives with the quality layer and is imported on first use too.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from lakemesh.errors import (
    AccessRefused,
    BreakingChange,
    CatalogUnreachable,
    CheckError,
    CommitConflict,
    ContractInvalid,
    DefinitionsInvalid,
    JavaNotFound,
    LakemeshError,
    LandingDataBad,
    ModelUnavailable,
    PartitionMismatch,
    ProductNotFound,
    RegistryUnavailable,
    SparkUnavailable,
    TableUnreadable,
    TrainingRefused,
    VersionNotFound,
)

_HOMES = {
    "Catalog": "lakemesh.catalog",
    "Contract": "lakemesh.contracts",
    "ContractViolation": "lakemesh.quality",
    "load_contract": "lakemesh.contracts",
    "load_contracts": "lakemesh.contracts",
    "PartitionWindow": "lakemesh.storage.commit",
    "PublishResult": "lakemesh.producers.publish",
    "publish": "lakemesh.producers.publish",
    "data_product": "lakemesh.producers.python",
    "spark_product": "lakemesh.producers.python",
    "domain_definitions": "lakemesh.orchestration.definitions",
    "read": "lakemesh.storage.reader",
    "Settings": "lakemesh.settings",
}

__all__ = [
    "AccessRefused",
    "BreakingChange",
    "Catalog",
    "CatalogUnreachable",
    "CheckError",
    "CommitConflict",
    "Contract",
    "ContractInvalid",
    "ContractViolation",
    "DefinitionsInvalid",
    "JavaNotFound",
    "LakemeshError",
    "LandingDataBad",
    "ModelUnavailable",
    "PartitionMismatch",
    "PartitionWindow",
    "ProductNotFound",
    "PublishResult",
    "RegistryUnavailable",
    "Settings",
    "SparkUnavailable",
    "TableUnreadable",
    "TrainingRefused",
    "VersionNotFound",
    "data_product",
    "domain_definitions",
    "load_contract",
    "load_contracts",
    "publish",
    "read",
    "spark_product",
]

if TYPE_CHECKING:
    from lakemesh.catalog import Catalog
    from lakemesh.contracts import Contract, load_contract, load_contracts
    from lakemesh.orchestration.definitions import domain_definitions
    from lakemesh.producers.publish import PublishResult, publish
    from lakemesh.producers.python import data_product, spark_product
    from lakemesh.quality import ContractViolation
    from lakemesh.settings import Settings
    from lakemesh.storage.commit import PartitionWindow
    from lakemesh.storage.reader import read


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'lakemesh' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
