"""Checking that a document is a valid OpenLineage run event before anything stores or forwards it.

The event is validated against the OpenLineage specification's own JSON
schemas, vendored in `spec/openlineage` (`RunEvent` of spec 2-0-2), and every
facet with a name the specification defines (`schema`, `ownership`,
`columnLineage`, ...) against that facet's schema; the platform's own facets
(`contract`) against `spec/lakemesh`. Facets of other names are open and pass
through untouched. What the catalog reads is therefore always of the shape it
expects: one malformed event is refused with a message naming the facet and
field, never stored to break the pages of everyone else; the Spark listener's
events are checked the same way before they are forwarded.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource

from lakemesh.errors import LakemeshError

__all__ = ["InvalidEvent", "check_run_event"]

_SPEC = Path(__file__).parent / "spec"
_OPENLINEAGE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"

_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date-time", raises=(ValueError, OverflowError))
def _is_datetime(value: object) -> bool:
    """An ISO time with its offset, that UTC can hold (year 1 at +01:00 cannot)."""
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value)
    return parsed.tzinfo is not None and bool(parsed.astimezone(UTC))


@_formats.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme)


@_formats.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


_FAST_FORMATS = {
    "date-time": lambda value: _checks(_is_datetime, value),
    "uri": lambda value: _checks(_is_uri, value),
    "uuid": lambda value: _checks(_is_uuid, value),
}
"""The same format rules for the Rust validator: an offset-aware ISO time, a URI with a scheme, a UUID."""


def _checks(rule: Any, value: str) -> bool:
    try:
        return bool(rule(value))
    except (ValueError, OverflowError):
        return False


@dataclass(frozen=True)
class _Validator:
    """One schema twice: compiled in Rust to decide fast, in Python to explain a refusal by JSON path."""

    url: str
    fast: Any
    explaining: jsonschema.Draft202012Validator

    def errors(self, instance: Any) -> list[tuple[list[Any], str]]:
        if self.fast.is_valid(instance):
            return []
        found = [(list(e.absolute_path), _message(e)) for e in map(_deepest, self.explaining.iter_errors(instance))]
        # Refused when either refuses; should only the Rust one, its own words say why.
        return found or [(list(e.instance_path), e.message) for e in self.fast.iter_errors(instance)]


@dataclass(frozen=True)
class _Schemas:
    event: _Validator
    facets: dict[str, dict[str, _Validator]]
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
    fast_registry = jsonschema_rs.Registry([(d["$id"], d) for d in documents])

    def validator(ref: str) -> _Validator:
        return _Validator(
            url=ref.split("#", 1)[0],
            fast=jsonschema_rs.validator_for(
                {"$ref": ref}, registry=fast_registry, validate_formats=True, formats=_FAST_FORMATS
            ),
            explaining=jsonschema.Draft202012Validator({"$ref": ref}, registry=registry, format_checker=_formats),
        )

    facets: dict[str, dict[str, _Validator]] = {place: {} for place in _PLACES}
    for place, kinds in _PLACES.items():
        for kind in reversed(kinds):  # the first kind is written last and wins
            for document in documents:
                name = document["$id"].rsplit("/", 1)[-1].removesuffix(".json")
                kind_of = next((k for k in ("Input", "Output") if name.endswith(k + "DatasetFacet")), "")
                if not name.endswith(kind) or (kind == "DatasetFacet" and kind_of):
                    continue
                for key in document.get("properties", {}):
                    facets[place][key] = validator(f"{document['$id']}#/properties/{key}")
    return _Schemas(event=validator(f"{_OPENLINEAGE}#/$defs/RunEvent"), facets=facets)


class InvalidEvent(LakemeshError, ValueError):
    """A document that is not a valid OpenLineage run event; the message lists what is wrong, by JSON path."""


def check_run_event(document: Any) -> dict[str, Any]:
    """Return the event unchanged when it is a valid run event with valid facets; raise `InvalidEvent` otherwise."""
    if not isinstance(document, dict):
        raise InvalidEvent(f"an OpenLineage run event is a JSON object, got a JSON {type(document).__name__}")
    schemas = _schemas()
    problems = [(_path(where), message) for where, message in schemas.event.errors(document)]
    if not problems:
        for where, place, facets in _facet_places(document):
            for key, facet in facets.items():
                known = schemas.facets[place].get(key)
                if known is None:
                    continue  # a facet the specification does not define: open
                problems += [
                    (_path([*where, key, *inside]), f"{message} (facet {key!r}, schema {known.url})")
                    for inside, message in known.errors(facet)
                ]
    if not problems:
        problems = _too_long(document) + _nul_characters(document)
    if problems:
        problems.sort()
        details = "; ".join(f"{where}: {message}" for where, message in problems[:8])
        more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
        raise InvalidEvent(f"not a valid OpenLineage run event: {details}{more}")
    return document


NAME_LIMIT, KEY_LIMIT, KIND_LIMIT = 1024, 255, 32
"""The longest namespace or name (Marquez's limit), version, field or assertion name, and transformation kind
the catalog stores; longer ones are refused rather than failing in the database."""


def _too_long(event: dict[str, Any]) -> list[tuple[str, str]]:
    """Strings of a schema-valid event longer than the catalog's columns hold, and counts larger, by JSON path."""
    too_big: list[tuple[list[Any], int]] = []
    checks: list[tuple[list[Any], Any, int]] = [
        (["job", "namespace"], event["job"]["namespace"], NAME_LIMIT),
        (["job", "name"], event["job"]["name"], NAME_LIMIT),
    ]
    for side in ("inputs", "outputs"):
        for i, dataset in enumerate(event.get(side) or []):
            at, facets = [side, i], dataset.get("facets") or {}
            checks += [
                ([*at, "namespace"], dataset["namespace"], NAME_LIMIT),
                ([*at, "name"], dataset["name"], NAME_LIMIT),
            ]
            statistics = (dataset.get("outputFacets") or {}).get("outputStatistics") or {}
            rows = statistics.get("rowCount")
            if isinstance(rows, int) and not 0 <= rows < 2**63:
                too_big.append(([*at, "outputFacets", "outputStatistics", "rowCount"], rows))
            version = facets.get("version") or {}
            checks.append(([*at, "facets", "version", "datasetVersion"], version.get("datasetVersion"), KEY_LIMIT))
            for n, owner in enumerate((facets.get("ownership") or {}).get("owners") or []):
                checks.append(([*at, "facets", "ownership", "owners", n, "name"], owner["name"], KEY_LIMIT))
            for n, assertion in enumerate((facets.get("dataQualityAssertions") or {}).get("assertions") or []):
                where = [*at, "facets", "dataQualityAssertions", "assertions", n]
                checks += [([*where, "assertion"], assertion["assertion"], KEY_LIMIT)]
                checks += [([*where, "column"], assertion.get("column"), KEY_LIMIT)]
            lineage = facets.get("columnLineage") or {}
            sources = [(["dataset"], lineage.get("dataset") or [])]
            for field, detail in (lineage.get("fields") or {}).items():
                checks.append(([*at, "facets", "columnLineage", "fields", field], field, KEY_LIMIT))
                kind = detail.get("transformationType")
                checks.append(
                    ([*at, "facets", "columnLineage", "fields", field, "transformationType"], kind, KIND_LIMIT)
                )
                sources.append((["fields", field, "inputFields"], detail.get("inputFields") or []))
            for inside, inputs in sources:
                for n, source in enumerate(inputs):
                    where = [*at, "facets", "columnLineage", *inside, n]
                    checks += [([*where, "namespace"], source["namespace"], NAME_LIMIT)]
                    checks += [
                        ([*where, "name"], source["name"], NAME_LIMIT),
                        ([*where, "field"], source["field"], KEY_LIMIT),
                    ]
                    for t, transformation in enumerate(source.get("transformations") or []):
                        for key in ("type", "subtype"):
                            checks.append(([*where, "transformations", t, key], transformation.get(key), KIND_LIMIT))
    return [
        (_path(where), f"{len(value):,} characters, longer than the {limit:,} the catalog stores")
        for where, value, limit in checks
        if isinstance(value, str) and len(value) > limit
    ] + [(_path(where), f"{number} is not a count the catalog stores (0 to 2**63 - 1)") for where, number in too_big]


def _nul_characters(document: Any) -> list[tuple[str, str]]:
    """Strings holding NUL: valid JSON (`\\u0000`), but no database text column stores them."""
    found, stack = [], [([], document)]
    while stack and len(found) < 8:
        where, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                found.append((_path(where), "holds a NUL character"))
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    found.append((_path(where), f"has a key holding a NUL character: {key!r}"))
                stack.append(([*where, key], item))
        elif isinstance(value, list):
            stack.extend(([*where, i], item) for i, item in enumerate(value))
    return found


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
