"""Checking that a posted document is an OpenLineage run event before the catalog stores anything.

The schema below states the OpenLineage 2-0-2 `RunEvent` requirements: the
base event fields, a UUID run id, job and dataset identifiers, the event type
enumeration, and every facet carrying `_producer` and `_schemaURL`. Facets are
open objects, so facets the catalog does not know pass through untouched.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import jsonschema

__all__ = ["InvalidEvent", "check_run_event"]

_FACET = {
    "type": "object",
    "required": ["_producer", "_schemaURL"],
    "properties": {"_producer": {"type": "string", "format": "uri"}, "_schemaURL": {"type": "string", "format": "uri"}},
}
_FACETS = {"type": "object", "additionalProperties": _FACET}
_DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}, "facets": _FACETS},
}
RUN_EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "OpenLineage RunEvent (spec 2-0-2)",
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": _FACETS},
        },
        "job": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}, "facets": _FACETS},
        },
        "inputs": {
            "type": "array",
            "items": {**_DATASET, "properties": {**_DATASET["properties"], "inputFacets": _FACETS}},
        },
        "outputs": {
            "type": "array",
            "items": {**_DATASET, "properties": {**_DATASET["properties"], "outputFacets": _FACETS}},
        },
    },
}

_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@_formats.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme)


@_formats.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


_validator = jsonschema.Draft202012Validator(RUN_EVENT_SCHEMA, format_checker=_formats)


class InvalidEvent(ValueError):
    """A document that is not an OpenLineage run event; the message lists what is wrong, by JSON path."""


def check_run_event(document: Any) -> dict[str, Any]:
    """Return the event unchanged when it is a valid run event; raise `InvalidEvent` otherwise."""
    if not isinstance(document, dict):
        raise InvalidEvent(f"an OpenLineage run event is a JSON object, got a JSON {type(document).__name__}")
    problems = sorted(_validator.iter_errors(document), key=lambda e: (list(e.absolute_path), e.message))
    if problems:
        details = "; ".join(_describe(e) for e in problems[:8])
        more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
        raise InvalidEvent(f"not a valid OpenLineage run event: {details}{more}")
    return document


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "event"
    if error.validator == "format":
        return f"{where}: {error.instance!r} is not a valid {error.validator_value}"
    return f"{where}: {error.message}"
