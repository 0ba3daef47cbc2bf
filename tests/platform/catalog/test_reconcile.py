"""`lakemesh catalog reconcile`: after publishes killed at any point, the catalog agrees with the Delta logs."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable
from lakemesh import Settings
from lakemesh.catalog import Catalog
from lakemesh.catalog.reconcile import reconcile
from lakemesh.lineage import JOB_NAMESPACE
from lakemesh.orchestration.maintenance import maintenance_jobs
from lakemesh.storage.commit import APP_ID_KEY

from ...conftest import exited_pid
from ..conftest import contract_doc, write_contract
from .events import facet, run_event

PRODUCTS = ("shop.orders", "shop.refunds")

# A child process that publishes versions of one product; FAULT picks where it kills itself, if anywhere.
_PUBLISHER = textwrap.dedent(
    """
    import os, signal, sys, uuid
    import polars as pl
    from lakemesh import Settings, load_contract, publish
    from lakemesh.lineage import PublishLineage

    from lakemesh.producers.batches import PolarsBatch

    contract_path, fault, dagster_run, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
    if fault == "after-commit":  # Delta has the version; the catalog never hears of it
        PublishLineage.complete = die
    elif fault == "before-commit":  # the catalog saw START; nothing reaches Delta
        PolarsBatch.commit = die
    contract = load_contract(contract_path)
    settings = Settings.from_env()
    for n in range(count):
        frame = pl.DataFrame({"id": list(range(n * 10, n * 10 + 50)), "amount": [1.5] * 50})
        publish(frame, contract=contract, settings=settings, run_id=dagster_run, step=f"step-{n}")
    """
)


@pytest.fixture
def contracts(project: Path) -> dict[str, Path]:
    paths = {}
    for product in PRODUCTS:
        columns = [
            {"name": "id", "logicalType": "integer", "physicalType": "bigint", "required": True, "unique": True},
            {"name": "amount", "logicalType": "number", "physicalType": "double", "required": True},
        ]
        paths[product] = write_contract(project, contract_doc(product, columns=columns)).path
    return paths


def _publisher(contract: Path, *, fault: str = "none", dagster_run: str | None = None, count: int = 1):
    return subprocess.Popen(
        [sys.executable, "-c", _PUBLISHER, str(contract), fault, dagster_run or str(uuid.uuid4()), str(count)],
        env=os.environ.copy(),
        stderr=subprocess.PIPE,
        text=True,
    )


def _delta_versions(settings: Settings, product: str) -> set[str]:
    """Versions committed by a publish (maintenance commits carry no app id)."""
    path = settings.table_uri(product)
    if not Path(path).exists():
        return set()
    return {str(c["version"]) for c in DeltaTable(path).history() if APP_ID_KEY in c}


def _assert_agrees_with_delta(settings: Settings) -> None:
    catalog = Catalog(settings.catalog_url)
    recorded = catalog.recorded_versions(settings.namespace, PRODUCTS)
    for product in PRODUCTS:
        committed = _delta_versions(settings, product)
        assert recorded[product] == committed, product
        if committed:
            latest = max(committed, key=int)
            assert catalog.dataset(settings.namespace, product)["currentVersion"] == latest, product
    assert catalog.open_runs(job_namespace=JOB_NAMESPACE, names=set(PRODUCTS)) == []


def test_a_commit_the_catalog_never_heard_of_is_recorded_under_the_publishs_own_run(
    contracts: dict[str, Path], settings: Settings
):
    child = _publisher(contracts["shop.orders"], fault="after-commit")
    assert child.wait(timeout=120) == -signal.SIGKILL
    catalog = Catalog(settings.catalog_url)
    (stuck,) = catalog.open_runs(job_namespace=JOB_NAMESPACE, names={"shop.orders"})
    assert catalog.recorded_versions(settings.namespace, ["shop.orders"]) == {"shop.orders": set()}

    done = reconcile(settings)

    assert done.recorded == ["shop.orders v0"] and done.aborted == []
    run = catalog.run(stuck.run_id)  # the START's run, now closed by the commit's COMPLETE
    assert run["state"] == "COMPLETED"
    assert run["outputDatasetVersions"][0]["datasetVersionId"]["version"] == "0"
    product = catalog.product("shop.orders", namespace=settings.namespace)
    assert (product.current_version, product.versions[0].row_count) == ("0", 50)
    assert product.contract["contractVersion"] == "1.0.0"
    _assert_agrees_with_delta(settings)
    again = reconcile(settings)  # idempotent: nothing left to do
    assert (again.recorded, again.aborted) == ([], [])


def test_a_publish_whose_process_is_gone_is_aborted_at_once(contracts: dict[str, Path], settings: Settings):
    """The START records host and process: a killed publish is over, whatever the stale bound and its Dagster run."""
    child = _publisher(contracts["shop.orders"], fault="before-commit")
    assert child.wait(timeout=120) == -signal.SIGKILL
    catalog = Catalog(settings.catalog_url)
    (stuck,) = catalog.open_runs(job_namespace=JOB_NAMESPACE, names={"shop.orders"})
    assert stuck.process == (socket.gethostname(), child.pid)

    done = reconcile(settings)  # within the stale bound, its Dagster run not known to be over
    assert done.aborted == [f"shop.orders run {stuck.run_id}"]
    run = catalog.run(stuck.run_id)
    assert run["state"] == "ABORTED"
    assert (
        f"its process {child.pid} on {socket.gethostname()} is gone and the publish never committed"
        in run["facets"]["errorMessage"]["message"]
    )
    assert not Path(settings.table_uri("shop.orders")).exists()  # nothing was published, and none is claimed
    _assert_agrees_with_delta(settings)


def test_a_publish_that_never_committed_is_aborted_once_its_dagster_run_is_over_or_it_is_stale(
    contracts: dict[str, Path], settings: Settings
):
    """Runs whose process is not known (another host's) are closed by their Dagster run's end or staleness."""
    catalog = Catalog(settings.catalog_url)
    dagster_run = str(uuid.uuid4())
    parent = {**facet(), "run": {"runId": dagster_run}, "job": {"namespace": "dagster", "name": "mesh"}}
    for _ in range(2):
        started = run_event(
            "shop.orders", event_type="START", event_time=datetime.now(UTC).isoformat(), run_facets={"parent": parent}
        )
        catalog.ingest({**started, "job": {**started["job"], "namespace": JOB_NAMESPACE}})
    first, second = catalog.open_runs(job_namespace=JOB_NAMESPACE, names={"shop.orders"})

    assert reconcile(settings, products=["shop.orders"]).aborted == []  # may still be publishing: left open
    done = reconcile(settings, products=["shop.orders"], finished_runs={dagster_run})
    assert sorted(done.aborted) == sorted(f"shop.orders run {r.run_id}" for r in (first, second))
    assert (
        f"its Dagster run {dagster_run} ended and the publish never committed"
        in (catalog.run(first.run_id)["facets"]["errorMessage"]["message"])
    )


def test_a_late_or_repeated_complete_never_moves_the_current_version_back(
    contracts: dict[str, Path], settings: Settings
):
    assert _publisher(contracts["shop.orders"], count=3).wait(timeout=120) == 0
    catalog = Catalog(settings.catalog_url)
    events, _ = catalog.events(limit=100)
    first_complete = next(
        e for e in reversed(events) if e["eventType"] == "COMPLETE" and e["job"]["name"] == "shop.orders"
    )
    assert first_complete["outputs"][0]["facets"]["version"]["datasetVersion"] == "0"
    catalog.ingest(first_complete)  # delivered again, late (an outbox replay, a retrying transport)
    assert catalog.dataset(settings.namespace, "shop.orders")["currentVersion"] == "2"
    _assert_agrees_with_delta(settings)


def test_the_domain_reconcile_job_records_missed_commits(contracts: dict[str, Path], settings: Settings):
    from lakemesh import load_contract

    assert _publisher(contracts["shop.refunds"], fault="after-commit").wait(timeout=120) == -signal.SIGKILL
    jobs = {
        job.name: job for job in maintenance_jobs("shop", [load_contract(contracts["shop.refunds"])], settings=settings)
    }
    result = jobs["shop__reconcile_catalog"].execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert Catalog(settings.catalog_url).dataset(settings.namespace, "shop.refunds")["currentVersion"] == "0"


@pytest.mark.slow
def test_publishes_killed_at_random_points_are_reconciled(contracts: dict[str, Path], settings: Settings):
    """Each trial kills a publisher somewhere between its start and its last event; reconcile repairs them all."""
    rng = random.Random(20261123)
    for trial in range(12):
        product = PRODUCTS[trial % 2]
        child = _publisher(contracts[product], count=4)
        time.sleep(rng.uniform(0.5, 3.0))  # interpreter start-up is ~1.5 s: some die before, some mid-publish
        child.kill()
        child.wait(timeout=60)
    for product in PRODUCTS:
        assert _publisher(contracts[product], fault="after-commit").wait(timeout=120) == -signal.SIGKILL
    catalog = Catalog(settings.catalog_url)
    assert len(catalog.open_runs(job_namespace=JOB_NAMESPACE, names=set(PRODUCTS))) >= 2  # the catalog is behind
    reconcile(settings, stale_after=timedelta(0))
    _assert_agrees_with_delta(settings)


def test_a_product_whose_log_cannot_be_read_is_reported_and_the_others_reconciled(
    contracts: dict[str, Path], settings: Settings
):
    assert _publisher(contracts["shop.orders"], fault="after-commit").wait(timeout=120) == -signal.SIGKILL
    assert _publisher(contracts["shop.refunds"]).wait(timeout=120) == 0
    (Path(settings.table_uri("shop.refunds")) / "_delta_log" / f"{0:020d}.json").write_text("{not json")

    done = reconcile(settings)

    assert done.recorded == ["shop.orders v0"]
    (problem,) = done.problems
    assert problem.startswith("shop.refunds: its Delta log could not be read: ")


def test_a_training_run_whose_process_is_gone_is_closed_and_a_listener_run_left_to_its_own_end(settings: Settings):
    catalog = Catalog(settings.catalog_url)
    dead = exited_pid()
    process = {**facet(), "host": socket.gethostname(), "pid": dead}
    now = datetime.now(UTC).isoformat()
    for job, facets in (("shop.late", {"lakemeshProcess": process}), ("spark_application", {})):
        started = run_event(job, event_type="START", event_time=now, run_facets=facets)
        catalog.ingest({**started, "job": {**started["job"], "namespace": JOB_NAMESPACE}})

    done = reconcile(settings)

    assert catalog.open_runs(job_namespace=JOB_NAMESPACE, names={"shop.late"}) == []
    assert len(done.aborted) == 1 and done.aborted[0].startswith("shop.late run ")
    assert [r.job for r in catalog.open_runs(job_namespace=JOB_NAMESPACE)] == ["spark_application"]


def test_a_product_whose_contract_is_gone_is_retired_and_live_again_once_it_is_back(
    contracts: dict[str, Path], settings: Settings
):
    settings = Settings.from_env()  # the test's own project, whose contracts these are
    assert _publisher(contracts["shop.orders"]).wait(timeout=120) == 0
    assert reconcile(settings).retired == []
    kept = contracts["shop.orders"].read_text()
    contracts["shop.orders"].unlink()  # the domain removed the product

    done = reconcile(settings)

    assert (done.retired, done.revived) == (["shop.orders"], [])
    entry = Catalog(settings.catalog_url).product("shop.orders", namespace=settings.namespace)
    assert entry.retired is not None and entry.current_version == "0"  # its versions stay readable
    listed = subprocess.run(
        [str(Path(sys.executable).with_name("lakemesh")), "catalog", "list"], capture_output=True, text=True
    )
    row = next(line for line in listed.stdout.splitlines() if line.startswith("shop.orders"))
    assert "retired" in row and "COMPLETED" not in row
    assert reconcile(settings).retired == []  # once is enough

    contracts["shop.orders"].write_text(kept)
    assert reconcile(settings).revived == ["shop.orders"]
    assert Catalog(settings.catalog_url).product("shop.orders", namespace=settings.namespace).retired is None
