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
from lakemesh.settings import Settings

__all__ = ["forward_listener_events"]

log = logging.getLogger(__name__)


def forward_listener_events(events_file: Path, *, settings: Settings) -> int:
    """Send the complete lines of `events_file` written since the last call; the number sent.

    The offset reached is kept beside the file, so a line is sent once even
    across processes; a line still being written waits for the next call.
    """
    offset_file = events_file.with_suffix(".offset")
    offset = int(offset_file.read_text()) if offset_file.is_file() else 0
    if not events_file.is_file() or events_file.stat().st_size <= offset:
        return 0
    with events_file.open("rb") as source:
        source.seek(offset)
        written = source.read()
    complete = written[: written.rfind(b"\n") + 1]
    emitter, sent = LineageEmitter.for_settings(settings), 0
    for line in complete.splitlines():
        if not line.strip():
            continue
        try:
            emitter.forward(check_run_event(_with_uri_data_sources(json.loads(line))))
        except (json.JSONDecodeError, InvalidEvent) as error:  # refused by the schema or by the catalog's rules
            log.warning("a Spark lineage event was set aside (%s.refused): %s", events_file.name, error)
            with events_file.with_suffix(".refused").open("ab") as refused:
                refused.write(line + b"\n")
            continue
        sent += 1
    offset_file.write_text(str(offset + len(complete)))
    return sent


def _with_uri_data_sources(event: Any) -> Any:
    """The event with a bare scheme as data source (`file`) written as the URI it means (`file:///`)."""
    if not isinstance(event, dict):
        return event
    for dataset in [*(event.get("inputs") or []), *(event.get("outputs") or [])]:
        source = (dataset.get("facets") or {}).get("dataSource")
        if isinstance(source, dict) and isinstance(source.get("uri"), str) and source["uri"].isalpha():
            source["uri"] = f"{source['uri']}:///"
    return event
