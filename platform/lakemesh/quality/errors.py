"""The refusal of a batch by its contract: the gate's report in words a person can act on.

It lives with the report it carries, so `lakemesh.errors` (below every package)
needs nothing from the quality layer; it is still a `LakemeshError`, which the
CLI reports in one line, and the facade still offers `lakemesh.ContractViolation`.
"""

from __future__ import annotations

from lakemesh.errors import LakemeshError
from lakemesh.quality.report import ValidationReport

__all__ = ["ContractViolation"]


class ContractViolation(LakemeshError):
    """A batch the contract refused: nothing was published, the failing rows are in quarantine."""

    def __init__(
        self,
        report: ValidationReport,
        *,
        kept_version: int | None,
        quarantine: str,
        quarantine_error: str | None = None,
    ) -> None:
        self.report = report
        self.kept_version = kept_version
        self.quarantine = quarantine
        contract = report.contract
        kept = f"version {kept_version} stays current" if kept_version is not None else "nothing was published"
        where = (
            f"the failing rows could NOT be quarantined ({quarantine_error})"
            if quarantine_error
            else f"failing rows quarantined in {quarantine}"
        )
        lines = [
            f"{contract.name} refused by its contract {contract.id} v{contract.version}: "
            f"{len(report.failures)} check(s) failed on a batch of {report.rows} rows; {kept}; {where}"
        ]
        lines += [f"  - {failure.describe()}" for failure in report.failures]
        super().__init__("\n".join(lines))
