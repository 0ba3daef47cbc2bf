"""Group commit: events posted together are stored together, and no request is left waiting."""

import asyncio
import uuid

from lakemesh.catalog.store import Catalog
from lakemesh.catalog.writer import GroupCommit

from .events import dataset, run_event


def test_a_request_that_goes_away_leaves_its_batch_and_its_event_stored(catalog_url: str):
    catalog = Catalog(catalog_url)
    events = [run_event(f"job{i}", outputs=[dataset(f"ds{i}")]) for i in range(4)]

    async def post_all() -> list:
        writer = GroupCommit(catalog)
        tasks = [asyncio.create_task(writer.store(event)) for event in events]
        await asyncio.sleep(0)  # all four queued; the writer is committing the first
        tasks[1].cancel()  # its client hung up
        return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)

    outcomes = asyncio.run(post_all())
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "CancelledError", "NoneType", "NoneType"]
    assert catalog.events(limit=1)[1] == 4  # the hung-up request's event was committed all the same


def test_one_bad_event_in_a_batch_fails_alone(catalog_url: str):
    catalog = Catalog(catalog_url)
    run_id = str(uuid.uuid4())
    catalog.ingest(run_event("owner", run_id=run_id))
    thief = run_event("thief", run_id=run_id)  # a run of another job: refused by the store
    good = [run_event(f"job{i}") for i in range(3)]

    async def post_all() -> list:
        writer = GroupCommit(catalog)
        return await asyncio.gather(*(writer.store(e) for e in [good[0], thief, *good[1:]]), return_exceptions=True)

    outcomes = asyncio.run(post_all())
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "InvalidEvent", "NoneType", "NoneType"]
    assert catalog.events(limit=1)[1] == 4
