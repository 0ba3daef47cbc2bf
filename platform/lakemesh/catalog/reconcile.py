"""Making the catalog agree with the Delta logs, the truth: `lakemesh catalog reconcile`.

A publish commits to Delta first and tells the catalog after, so a process
killed between the two, or a catalog that was down, leaves the catalog behind.
Reconciling drains the outbox, then reads every product's Delta log: each
commit made by a publish (it carries `lakemesh.appId`) that the catalog has no
COMPLETE run for gets one, built from the commit's own metadata (contract,
inputs, Dagster run, time, rows written) under the run id the publish itself
used, so a late event of that publish lands on the same run. The other way
round, a version the catalog has and Delta does not is removed, and the
current version and what describes the product (owner, description, contract,
fields) are set to Delta's latest publish and its contract
(`lakemesh.catalog.provenance`). A publish that started and never committed is
closed as ABORTED once its process is gone, its Dagster run is known to be
over, or after `stale_after`.
"""

from __future__ import annotations

import socket
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lakemesh.catalog.entries import DeltaState
from lakemesh.catalog.ingestion import described_by
from lakemesh.catalog.provenance import ProductCommit, product_table, publish_commits
from lakemesh.catalog.store import Catalog
from lakemesh.errors import in_one_line
from lakemesh.lineage import JOB_NAMESPACE, InputRef, LineageEmitter, PublishLineage, abort_event
from lakemesh.processes import process_exited
from lakemesh.settings import Settings

__all__ = ["DEFAULT_STALE_AFTER", "Reconciliation", "reconcile"]

DEFAULT_STALE_AFTER = timedelta(hours=1)
"""How long a publish may go without committing before reconcile closes it, when its Dagster run's end is unknown."""


@dataclass(frozen=True, kw_only=True)
class Reconciliation:
    """What one reconcile pass did."""

    products: int
    """Products whose Delta log was read."""
    recorded: list[str]
    """`<product> v<version>` for each commit the catalog learned of only now."""
    restated: list[str]
    """`<product>: <what changed>` for each product whose entry disagreed with its Delta log (versions Delta does
    not have, another current version, a description not from its contract)."""
    retired: list[str]
    """Products whose contract is gone from the project, marked retired now."""
    revived: list[str]
    """Retired products whose contract is back."""
    aborted: list[str]
    """`<product> run <id>` for each publish closed as ABORTED."""
    delivered: int
    """Outbox events delivered first."""
    waiting: int
    """Outbox events still waiting (the transport is down)."""
    outbox_error: str | None
    problems: list[str]
    """`<product>: <why>` for each product that could not be reconciled; the others were."""


def reconcile(
    settings: Settings,
    *,
    products: Iterable[str] | None = None,
    finished_runs: Collection[str] = (),
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> Reconciliation:
    """Bring the catalog in line with the Delta logs of `products` (default: every product with a contract or
    named by an event in the catalog).

    `finished_runs` are Dagster run ids known to be over: their publishes that never committed are closed at
    once, the others after `stale_after`.
    """
    emitter = LineageEmitter.for_settings(settings)
    delivery = emitter.flush()
    catalog = Catalog(settings.catalog_url, storage_options=settings.storage_options)
    every_product = products is None
    if every_product:  # a product the catalog has any event of, described or not, as well
        known = (n for n in catalog.dataset_names(settings.namespace) if product_table(settings.namespace, n))
        names = sorted(set(settings.contract_paths()) | set(known))
    else:
        names = sorted(set(products))
    problems: list[str] = []

    def read_log(name: str) -> list[ProductCommit] | None:
        try:
            return publish_commits(settings.namespace, name, storage_options=settings.storage_options)
        except Exception as error:  # one unreadable log stops only its product
            problems.append(f"{name}: its Delta log could not be read: {in_one_line(error)}")
            return None

    with ThreadPoolExecutor(8) as pool:  # deltalake reads the logs outside the GIL
        logs = dict(zip(names, pool.map(read_log, names), strict=True))
    recorded_versions = catalog.recorded_versions(settings.namespace, names)
    recorded, committed_runs = [], set()
    for name in names:
        missing = []
        for commit in logs[name] or []:
            committed_runs.add(commit.run_id)
            if str(commit.version) not in recorded_versions[name]:
                missing.append(commit)
        if not missing:
            continue
        try:
            catalog.ingest_all(_complete_event(commit, settings, emitter) for commit in missing)
        except Exception as error:  # e.g. a commit whose contract no longer parses: the rest go on
            problems.append(f"{name}: its missed commits could not be recorded: {in_one_line(error)}")
            continue
        recorded += [f"{name} v{commit.version}" for commit in missing]
    states = {}
    for name, commits in logs.items():
        try:
            states[name] = _delta_state(commits) if commits is not None else None
        except Exception as error:  # e.g. its latest commit's contract no longer parses: the others go on
            problems.append(f"{name}: its latest commit cannot describe it: {in_one_line(error)}")
    restated = catalog.restate(settings.namespace, {n: state for n, state in states.items() if state is not None})
    retired, revived = (
        catalog.retire(settings.namespace, live=set(settings.contract_paths()))
        if every_product and settings.project_root is not None
        else ([], [])
    )
    aborted = []
    now, host, in_scope = datetime.now(UTC), socket.gethostname(), set(names)
    products = in_scope | set(settings.contract_paths())
    for run in catalog.open_runs(job_namespace=JOB_NAMESPACE):
        if run.run_id in committed_runs:
            continue  # its commit's COMPLETE was recorded above
        if run.job in products and run.job not in in_scope:
            continue  # another product's: only its own log says whether it committed
        if run.job not in products and run.process is None:
            continue  # not the platform's (Spark's listener reports its application's end itself)
        ended = "the publish never committed to Delta" if run.job in products else "it never ended"
        if run.process is not None and run.process[0] == host and process_exited(run.process[1]):
            reason = f"its process {run.process[1]} on {host} is gone and {ended}"
        elif run.parent_run_id in finished_runs:
            reason = f"its Dagster run {run.parent_run_id} ended and {ended}"
        elif now - run.since > stale_after:
            awaited = "Delta commit" if run.job in products else "end"
            reason = f"no {awaited} within {stale_after} of its start at {run.since:%Y-%m-%d %H:%M:%S} UTC"
        else:
            continue
        catalog.ingest(abort_event(product=run.job, run_id=run.run_id, reason=f"closed by reconcile: {reason}"))
        aborted.append(f"{run.job} run {run.run_id}")
    return Reconciliation(
        products=len(names),
        recorded=recorded,
        restated=restated,
        retired=retired,
        revived=revived,
        aborted=aborted,
        delivered=delivery.delivered,
        waiting=delivery.waiting,
        outbox_error=delivery.error,
        problems=sorted(problems),
    )


def _delta_state(commits: list[ProductCommit]) -> DeltaState:
    latest = commits[-1] if commits else None
    return DeltaState(
        versions=frozenset(str(commit.version) for commit in commits),
        latest=str(latest.version) if latest else None,
        described=described_by(latest.facets()) if latest else {},
        at=latest.at if latest else None,
    )


def _complete_event(commit: ProductCommit, settings: Settings, emitter: LineageEmitter) -> Any:
    """The COMPLETE event the publish would have sent, rebuilt from its commit."""
    record = commit.record
    lineage = PublishLineage(
        emitter,
        settings=settings,
        contract=commit.contract,
        inputs=[
            InputRef.of_product(product, settings=settings, version=version)
            for product, version in (record.inputs or {}).items()
        ],
        parent_run_id=record.run_id or None,
        run_id=commit.run_id,
        partition=record.partition if commit.contract.partitioning is not None else None,
    )
    return lineage.complete_event(version=commit.version, rows=commit.rows, assertions={}, at=commit.at)
