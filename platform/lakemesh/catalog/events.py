"""Checking that a posted document is a valid OpenLineage run event before the catalog stores anything.

The event is validated against the OpenLineage specification's own JSON
schemas, vendored in `spec/openlineage` (`RunEvent` of spec 2-0-2), and every
facet with a name the specification defines (`schema`, `ownership`,
`columnLineage`, ...) against that facet's schema; the platform's own facets
(`contract`) against `spec/lakemesh`. Facets of other names are open and pass
through untouched. What the catalog reads is therefore always of the shape it
expects: one malformed event is refused with a message naming the facet and
field, never stored to break the pages of everyone else.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
from referencing import Registry, Resource

__all__ = ["InvalidEvent", "check_run_event"]

_SPEC = Path(__file__).parent / "spec"
_OPENLINEAGE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"

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


@dataclass(frozen=True)
class _FacetSchema:
    url: str
    validator: jsonschema.Draft202012Validator


@dataclass(frozen=True)
class _Schemas:
    event: jsonschema.Draft202012Validator
    facets: dict[str, dict[str, _FacetSchema]]
    """By where a facet sits (`run`, `job`, `facets`, `inputFacets`, `outputFacets`), then by its name."""


# Where each kind of facet may sit; a dataset's `facets` also takes input and output facets (producers put data
# quality assertions there), the more specific schema winning when a name has two.
_PLACES = {
    "run": ("RunFacet",),
    "job": ("JobFacet",),
    "facets": ("DatasetFacet", "InputDatasetFacet", "OutputDatasetFacet"),
    "inputFacets": ("InputDatasetFacet", "DatasetFacet"),
    "outputFacets": ("OutputDatasetFacet", "DatasetFacet"),
}


@cache
def _schemas() -> _Schemas:
    documents = [json.loads(path.read_text()) for path in sorted(_SPEC.rglob("*.json"))]
    registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in documents)

    def validator(ref: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry, format_checker=_formats)

    facets: dict[str, dict[str, _FacetSchema]] = {place: {} for place in _PLACES}
    for place, kinds in _PLACES.items():
        for kind in reversed(kinds):  # the first kind is written last and wins
            for document in documents:
                name = document["$id"].rsplit("/", 1)[-1].removesuffix(".json")
                kind_of = next((k for k in ("Input", "Output") if name.endswith(k + "DatasetFacet")), "")
                if not name.endswith(kind) or (kind == "DatasetFacet" and kind_of):
                    continue
                url = document["$id"]
                for key in document.get("properties", {}):
                    facets[place][key] = _FacetSchema(url, validator(f"{url}#/properties/{key}"))
    return _Schemas(event=validator(f"{_OPENLINEAGE}#/$defs/RunEvent"), facets=facets)


class InvalidEvent(ValueError):
    """A document that is not a valid OpenLineage run event; the message lists what is wrong, by JSON path."""


def check_run_event(document: Any) -> dict[str, Any]:
    """Return the event unchanged when it is a valid run event with valid facets; raise `InvalidEvent` otherwise."""
    if not isinstance(document, dict):
        raise InvalidEvent(f"an OpenLineage run event is a JSON object, got a JSON {type(document).__name__}")
    schemas = _schemas()
    problems = [(_path(e.absolute_path), _message(e)) for e in map(_deepest, schemas.event.iter_errors(document))]
    if not problems:
        for where, place, facets in _facet_places(document):
            for key, facet in facets.items():
                known = schemas.facets[place].get(key)
                if known is None:
                    continue  # a facet the specification does not define: open
                problems += [
                    (_path([*where, key, *e.absolute_path]), f"{_message(e)} (facet {key!r}, schema {known.url})")
                    for e in map(_deepest, known.validator.iter_errors(facet))
                ]
    if problems:
        problems.sort()
        details = "; ".join(f"{where}: {message}" for where, message in problems[:8])
        more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
        raise InvalidEvent(f"not a valid OpenLineage run event: {details}{more}")
    return document


def _facet_places(event: dict[str, Any]) -> list[tuple[list[Any], str, dict[str, Any]]]:
    """(JSON path, place, facets) for every facets object of a structurally valid event."""
    places: list[tuple[list[Any], str, dict[str, Any]]] = [
        (["run", "facets"], "run", event["run"].get("facets") or {}),
        (["job", "facets"], "job", event["job"].get("facets") or {}),
    ]
    for side, own in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for i, dataset in enumerate(event.get(side) or []):
            places.append(([side, i, "facets"], "facets", dataset.get("facets") or {}))
            places.append(([side, i, own], own, dataset.get(own) or {}))
    return places


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Inside an `anyOf` (how the specification wraps facets), the error that says what is actually wrong."""
    return jsonschema.exceptions.best_match([error])


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "event"


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "format":
        return f"{error.instance!r} is not a valid {error.validator_value}"
    return error.message
