"""Group commit: events posted at the same time are stored in one transaction.

A commit is the dearest part of storing an event (a WAL write, on PostgreSQL
a flush to disk). The server hands every validated event to one writer per
process; while the writer commits a batch, new events queue, and the next
batch takes them all. Each request still answers only once its own event is
committed. Should a batch fail, its events are stored one by one, so an
event fails only for its own reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from lakemesh.catalog.store import Catalog

__all__ = ["GroupCommit"]

MAX_BATCH = 256


class GroupCommit:
    """Stores checked events for one catalog, batching those that arrive while a commit is under way."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.waiting: list[tuple[Mapping[str, Any], asyncio.Future[None]]] = []
        self.writing = False
        self.task: asyncio.Task[None] | None = None  # held so the running writer is not collected

    async def store(self, event: Mapping[str, Any]) -> None:
        """Return once `event` is committed; raise what storing it raised.

        A request that goes away while waiting does not take its event, or anyone else's, with it.
        """
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((event, done))
        if not self.writing:
            self.writing = True
            self.task = asyncio.create_task(self._write())
        await asyncio.shield(done)

    async def _write(self) -> None:
        batch: list[tuple[Mapping[str, Any], asyncio.Future[None]]] = []
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                try:
                    await run_in_threadpool(self.catalog.ingest_all, [event for event, _ in batch], checked=True)
                except Exception:  # one event, or a conflict with another writer: each on its own
                    await self._write_one_by_one(batch)
                else:
                    for _, done in batch:
                        _settle(done)
        except BaseException as error:  # the server stops: nobody waits for ever
            for _, done in [*batch, *self.waiting]:
                _settle(done, error if isinstance(error, Exception) else RuntimeError("the catalog is stopping"))
            self.waiting = []
            raise
        finally:
            self.writing = False

    async def _write_one_by_one(self, batch: list[tuple[Mapping[str, Any], asyncio.Future[None]]]) -> None:
        for event, done in batch:
            try:
                await run_in_threadpool(self.catalog.ingest, event, checked=True)
            except Exception as error:  # handed to the request that posted it
                _settle(done, error)
            else:
                _settle(done)


def _settle(done: asyncio.Future[None], error: BaseException | None = None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
