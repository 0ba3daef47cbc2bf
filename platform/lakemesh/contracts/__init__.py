"""Contracts: the ODCS model, the engine-neutral check plan, and compatibility between versions."""

from lakemesh.contracts.model import (
    Column,
    Contract,
    QualityRule,
    contract_from_document,
    load_contract,
    load_contracts,
)
from lakemesh.contracts.plan import SCHEMA_CHECK, Check, CheckPlan, ColumnSpec, ColumnType, compile_plan

__all__ = [
    "SCHEMA_CHECK",
    "Check",
    "CheckPlan",
    "Column",
    "ColumnSpec",
    "ColumnType",
    "Contract",
    "QualityRule",
    "compile_plan",
    "contract_from_document",
    "load_contract",
    "load_contracts",
]
