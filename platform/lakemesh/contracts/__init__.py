"""Contracts: the ODCS model, the engine-neutral check plan and its compiler, and compatibility between versions."""

from lakemesh.contracts.compiler import compile_plan
from lakemesh.contracts.model import Contract, contract_from_document, load_contract, load_contracts
from lakemesh.contracts.plan import SCHEMA_CHECK, Check, CheckPlan, Column, ColumnType, QualityRule

__all__ = [
    "SCHEMA_CHECK",
    "Check",
    "CheckPlan",
    "Column",
    "ColumnType",
    "Contract",
    "QualityRule",
    "compile_plan",
    "contract_from_document",
    "load_contract",
    "load_contracts",
]
