"""Quality: the check plan run on a batch, and the report of what failed."""

from lakemesh.quality.polars_backend import as_polars, compile_schema, polars_dtype, validate
from lakemesh.quality.report import CheckFailure, ValidationReport

__all__ = ["CheckFailure", "ValidationReport", "as_polars", "compile_schema", "polars_dtype", "validate"]
