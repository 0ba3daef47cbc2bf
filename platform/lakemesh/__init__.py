"""Lakemesh: contract-guarded Delta Lake data products from Dagster assets and dbt models.

The public API: declare producers (`data_product`), build a domain's Dagster
code location (`domain_definitions`), publish through the one gated path
(`publish`), and read products back (`read`).

The Dagster-facing names are imported on first use, so `lakemesh.catalog` (the
catalog server) and the publish path load without Dagster and dbt, which take
seconds to import.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# imported now: the submodule `lakemesh.publish` would otherwise shadow the function once loaded
from lakemesh.publish import ContractViolation, PublishResult, publish

_HOMES = {
    "Catalog": "lakemesh.catalog",
    "Contract": "lakemesh.contracts",
    "ContractError": "lakemesh.contracts",
    "load_contract": "lakemesh.contracts",
    "load_contracts": "lakemesh.contracts",
    "data_product": "lakemesh.dagster_assets",
    "DefinitionsError": "lakemesh.definitions",
    "domain_definitions": "lakemesh.definitions",
    "LandingError": "lakemesh.landing",
    "read": "lakemesh.reader",
    "Settings": "lakemesh.settings",
}

__all__ = [
    "Catalog",
    "Contract",
    "ContractError",
    "ContractViolation",
    "DefinitionsError",
    "LandingError",
    "PublishResult",
    "Settings",
    "data_product",
    "domain_definitions",
    "load_contract",
    "load_contracts",
    "publish",
    "read",
]

if TYPE_CHECKING:
    from lakemesh.catalog import Catalog
    from lakemesh.contracts import Contract, ContractError, load_contract, load_contracts
    from lakemesh.dagster_assets import data_product
    from lakemesh.definitions import DefinitionsError, domain_definitions
    from lakemesh.landing import LandingError
    from lakemesh.reader import read
    from lakemesh.settings import Settings


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'lakemesh' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
