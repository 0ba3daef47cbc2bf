"""Maintenance per domain, as Dagster jobs operators can run and schedule from the UI.

`<domain>__maintenance` compacts, checkpoints and vacuums each product and its
quarantine within the contract's retention (also `lakemesh maintain`);
`<domain>__reconcile_catalog` makes the catalog agree with the products' Delta
logs (also `lakemesh catalog reconcile`).
"""

from collections.abc import Callable, Iterable

import dagster as dg

from lakemesh.contracts import Contract
from lakemesh.orchestration.resources import lakehouse_resource
from lakemesh.settings import Settings
from lakemesh.storage.maintenance import maintain_products

__all__ = ["maintenance_jobs"]


def maintenance_jobs(domain: str, contracts: Iterable[Contract], *, settings: Settings) -> list[dg.JobDefinition]:
    """The domain's storage maintenance and catalog reconciliation jobs."""
    products = sorted(contract.name for contract in contracts)

    def maintain(context: dg.OpExecutionContext, run_settings: Settings) -> None:
        from lakemesh.contracts import load_contracts

        own = load_contracts(run_settings.project_dir / "contracts", domain=domain).values()
        for result in maintain_products(own, settings=run_settings):
            context.log.info(
                f"{result.uri}: version {result.version}, readable from {result.oldest_kept}, "
                f"{result.compacted_files} files compacted, {result.removed_files} removed"
            )

    def reconcile_catalog(context: dg.OpExecutionContext, run_settings: Settings) -> None:
        from lakemesh.catalog.reconcile import reconcile

        done = reconcile(run_settings, products=products)
        for entry in done.recorded:
            context.log.info(f"recorded {entry} from the Delta log")
        for entry in done.aborted:
            context.log.warning(f"closed {entry} as ABORTED: it never committed")
        if done.waiting:
            context.log.warning(f"{done.waiting} lineage event(s) still wait in the outbox: {done.outbox_error}")
        if done.problems:
            raise dg.Failure(f"not reconciled: {'; '.join(done.problems)}")

    return [
        _domain_job(
            f"{domain}__maintenance",
            f"{domain}__maintain",
            f"Compact, checkpoint and vacuum {', '.join(products)}.",
            maintain,
            settings=settings,
        ),
        _domain_job(
            f"{domain}__reconcile_catalog",
            f"{domain}__reconcile",
            f"Make the catalog agree with the Delta logs of {', '.join(products)}.",
            reconcile_catalog,
            settings=settings,
        ),
    ]


def _domain_job(
    name: str,
    op_name: str,
    description: str,
    body: Callable[[dg.OpExecutionContext, Settings], None],
    *,
    settings: Settings,
) -> dg.JobDefinition:
    """A one-op job; the op reads the settings of the process that runs it (the environment may differ)."""

    @dg.op(name=op_name, description=description, required_resource_keys={"lakehouse"})
    def work(context: dg.OpExecutionContext) -> None:
        body(context, context.resources.lakehouse.settings())

    @dg.job(name=name, description=description, resource_defs={"lakehouse": lakehouse_resource(settings.project_dir)})
    def job() -> None:
        work()

    return job
