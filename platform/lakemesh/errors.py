"""The errors a Lakemesh user must tell apart, under one base class.

Each names what went wrong and where (file, product, table, version) in its
first line; the CLI prints that line alone (exit code 2) and the traceback only
with `--debug`. Anything that is not a `LakemeshError` is a bug of the platform.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "AccessRefused",
    "BreakingChange",
    "CatalogUnreachable",
    "CheckError",
    "CommitConflict",
    "ContractInvalid",
    "DefinitionsInvalid",
    "JavaNotFound",
    "LakemeshError",
    "LandingDataBad",
    "ModelUnavailable",
    "PartitionMismatch",
    "ProductNotFound",
    "RegistryUnavailable",
    "SelectionInvalid",
    "SparkUnavailable",
    "TableUnreadable",
    "TrainingRefused",
    "VersionNotFound",
    "did_you_mean",
    "first_line",
    "in_one_line",
]


class LakemeshError(Exception):
    """Base of every error the platform reports to a person rather than crashing with."""


class ContractInvalid(LakemeshError, ValueError):
    """A contract file that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path | str, field_path: str, reason: str) -> None:
        self.path = Path(path)
        self.field_path = field_path
        super().__init__(f"{path}: field '{field_path}': {reason}")


class JavaNotFound(LakemeshError):
    """Spark needs a Java 17 or 21 runtime and none was found (or `JAVA_HOME` points at none)."""


class SparkUnavailable(LakemeshError):
    """A Spark session could not be had: the master cannot be reached or the session did not start."""


class CheckError(LakemeshError):
    """A check that could not be evaluated: a fault of the rule or the platform, never of the data."""


class BreakingChange(LakemeshError):
    """A contract change that breaks the published product's readers without a new major version."""


class PartitionMismatch(LakemeshError, ValueError):
    """A batch for one time partition holding rows of another: they would land in the wrong partition."""


class AccessRefused(LakemeshError):
    """A product reading another domain's non-public product; names both ends."""


class DefinitionsInvalid(LakemeshError):
    """A domain whose code and contracts disagree (a product without a producer, or the reverse)."""


class LandingDataBad(LakemeshError):
    """A landing file that is missing or unreadable; the message names the path and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"landing file {path}: {reason}")


class ProductNotFound(LakemeshError, LookupError):
    """A product that has no contract, or was never published."""


class SelectionInvalid(LakemeshError, ValueError):
    """An asset selection (`lakemesh run --select`) that does not parse or selects nothing."""


class VersionNotFound(LakemeshError, LookupError):
    """A Delta version of a product that does not exist (or is no longer kept)."""


class TableUnreadable(LakemeshError):
    """A Delta table whose log cannot be read; names the table and, when known, the version."""


class CommitConflict(LakemeshError):
    """A Delta commit that lost to a concurrent writer and could not be retried."""


class CatalogUnreachable(LakemeshError):
    """The catalog could not be reached; published data is unaffected, events wait in the outbox."""


class TrainingRefused(LakemeshError):
    """A model that was not registered: its training data cannot train it, or it failed its evaluation gate."""

    def __init__(self, message: str, *, metrics: dict[str, float] | None = None) -> None:
        self.metrics = dict(metrics or {})
        super().__init__(message)


class RegistryUnavailable(LakemeshError):
    """The MLflow tracking store did not answer; nothing was registered."""


class ModelUnavailable(LakemeshError):
    """A registered model version that cannot be loaded (no such alias, artifact missing or corrupt)."""


def first_line(error: BaseException | str) -> str:
    """The first line of an error's message (or of a text), or the error's type name when it has none: what a
    one-line report shows."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def in_one_line(error: BaseException) -> str:
    """`<ErrorType>: <first line of its message>`, for reports that list several failures."""
    return f"{type(error).__name__}: {first_line(error)}" if str(error).strip() else type(error).__name__


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean <the closest known name>?` to end a not-found message, or "" when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]}?" if close else ""
