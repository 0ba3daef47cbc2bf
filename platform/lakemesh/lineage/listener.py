"""Spark's own lineage: the OpenLineage Spark listener's events, forwarded to the catalog like the platform's.

The listener (`io.openlineage:openlineage-spark`) sees every Spark job from the
inside: the Delta tables it read and wrote, named by their storage, and the
column lineage of its plan. It writes its events to a file (one JSON per line);
after each Spark product's publish the platform sends the lines it has not sent
yet through the same emitter as its own events (the catalog, or the outbox when
the catalog is down), so the catalog validates them like any producer's.

Two things are done to them first. The listener names the local file system's
data source `file`, which is not a URI (the `dataSource` facet's schema wants
one): it is sent as `file:///`. An event the catalog would still refuse is
logged and set aside in `<events file>.refused`, never put in the outbox,
where it would hold back every later event.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lakemesh.lineage.transport import LineageEmitter
from lakemesh.lineage.validation import InvalidEvent, check_run_event
from lakemesh.processes import process_exited
from lakemesh.settings import Settings

__all__ = ["forward_abandoned_listener_events", "forward_listener_events"]

log = logging.getLogger(__name__)


def forward_listener_events(events_file: Path, *, settings: Settings, finished: bool = False) -> int:
    """Send the complete lines of `events_file` written since the last call; the number sent.

    The offset reached is kept beside the file, so a line is sent once even
    across processes; a line still being written waits for the next call.
    `finished`: nothing more will be written (the session stopped, or its
    process is gone): a partial last line is set aside, and the file and its
    offset are removed once everything in them was sent or set aside.
    """
    offset_file = events_file.with_suffix(".offset")
    offset = int(offset_file.read_text()) if offset_file.is_file() else 0
    written = b""
    if events_file.is_file() and events_file.stat().st_size > offset:
        with events_file.open("rb") as source:
            source.seek(offset)
            written = source.read()
    complete = written[: written.rfind(b"\n") + 1]
    sent = _send(complete.splitlines(), events_file, settings) if complete else 0
    if finished:
        if written[len(complete) :].strip():
            _set_aside(events_file, written[len(complete) :], "its last line was never finished (the writer died)")
        events_file.unlink(missing_ok=True)
        offset_file.unlink(missing_ok=True)
    elif complete:
        offset_file.write_text(str(offset + len(complete)))
    return sent


def forward_abandoned_listener_events(*, settings: Settings) -> int:
    """Forward what the listeners of dead processes (a killed run) left in the outbox, then remove their files."""
    sent = 0
    for events_file in sorted((settings.outbox_dir / "spark").glob("*.jsonl")):
        owner = events_file.stem.split("-", 1)[0]
        if owner.isdigit() and process_exited(int(owner)):
            sent += forward_listener_events(events_file, settings=settings, finished=True)
    return sent


def _send(lines: list[bytes], events_file: Path, settings: Settings) -> int:
    emitter, sent = LineageEmitter.for_settings(settings), 0
    for line in lines:
        if not line.strip():
            continue
        try:
            emitter.forward(check_run_event(_with_uri_data_sources(json.loads(line))))
        except (json.JSONDecodeError, InvalidEvent) as error:  # refused by the schema or by the catalog's rules
            _set_aside(events_file, line + b"\n", str(error))
            continue
        sent += 1
    return sent


def _set_aside(events_file: Path, lines: bytes, reason: str) -> None:
    """Keep what cannot be sent in `<events file>.refused`, with why in the log: never in the outbox's way."""
    log.warning("Spark lineage was set aside (%s.refused): %s", events_file.name, reason)
    with events_file.with_suffix(".refused").open("ab") as refused:
        refused.write(lines if lines.endswith(b"\n") else lines + b"\n")


def _with_uri_data_sources(event: Any) -> Any:
    """The event with a bare scheme as data source (`file`) written as the URI it means (`file:///`)."""
    if not isinstance(event, dict):
        return event
    for dataset in [*(event.get("inputs") or []), *(event.get("outputs") or [])]:
        source = (dataset.get("facets") or {}).get("dataSource")
        if isinstance(source, dict) and isinstance(source.get("uri"), str) and source["uri"].isalpha():
            source["uri"] = f"{source['uri']}:///"
    return event
