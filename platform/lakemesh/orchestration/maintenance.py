"""Storage maintenance per domain: each product and its quarantine, within the contract's retention.

The same pass runs from `lakemesh maintain` and from a Dagster job in each
domain's code location (`<domain>__maintenance`), so operators can schedule it.
"""

from collections.abc import Iterable

import dagster as dg

from lakemesh.contracts import Contract
from lakemesh.errors import ProductNotFound
from lakemesh.settings import Settings
from lakemesh.storage.maintenance import Maintenance, maintain_table

__all__ = ["maintain_products", "maintenance_job"]


def maintain_products(contracts: Iterable[Contract], *, settings: Settings) -> list[Maintenance]:
    """Maintain every published product (and its quarantine) of `contracts`; unpublished ones are skipped."""
    done = []
    for contract in contracts:
        for uri in (settings.table_uri(contract.name), settings.quarantine_uri(contract.name)):
            try:
                done.append(
                    maintain_table(
                        uri,
                        retention_hours=contract.retention_hours,
                        retain_versions=contract.retain_versions,
                        storage_options=settings.storage_options,
                    )
                )
            except ProductNotFound:
                continue
    return done


def maintenance_job(domain: str, contracts: Iterable[Contract], *, settings: Settings) -> dg.JobDefinition:
    """A job that checkpoints, compacts and vacuums every product of one domain."""
    products = sorted(contract.name for contract in contracts)

    @dg.op(name=f"{domain}__maintain", description=f"Compact, checkpoint and vacuum {', '.join(products)}.")
    def maintain(context: dg.OpExecutionContext) -> None:
        from lakemesh.contracts import load_contracts

        run_settings = Settings.from_env(project_dir=settings.project_dir)
        own = load_contracts(run_settings.project_dir / "contracts", domain=domain).values()
        for result in maintain_products(own, settings=run_settings):
            context.log.info(
                f"{result.uri}: version {result.version}, readable from {result.oldest_kept}, "
                f"{result.compacted_files} files compacted, {result.removed_files} removed"
            )

    @dg.job(name=f"{domain}__maintenance", description=f"Storage maintenance of the {domain} domain's products.")
    def job() -> None:
        maintain()

    return job
