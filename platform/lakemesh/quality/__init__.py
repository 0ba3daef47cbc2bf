"""Quality: the check plan run on a batch, the report of what failed, and the refusal that carries it."""

from lakemesh.quality.errors import ContractViolation
from lakemesh.quality.polars_backend import as_polars, compile_schema, polars_dtype, validate
from lakemesh.quality.report import CheckFailure, ValidationReport

__all__ = [
    "CheckFailure",
    "ContractViolation",
    "ValidationReport",
    "as_polars",
    "compile_schema",
    "polars_dtype",
    "validate",
]
