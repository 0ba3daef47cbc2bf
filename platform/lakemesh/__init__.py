"""Lakemesh: contract-guarded Delta Lake data products from Dagster assets and dbt models.

The public API: declare producers (`data_product`), build a domain's Dagster
code location (`domain_definitions`), publish through the one gated path
(`publish`), and read products back (`read`).
"""

from lakemesh.catalog import Catalog
from lakemesh.contracts import Contract, ContractError, load_contract, load_contracts
from lakemesh.dagster_assets import data_product
from lakemesh.definitions import DefinitionsError, domain_definitions
from lakemesh.landing import LandingError
from lakemesh.publish import ContractViolation, PublishResult, publish
from lakemesh.reader import read
from lakemesh.settings import Settings

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
