"""Data contracts: one ODCS v3 YAML file per product, read into a typed model.

The file is checked three times: against the standard's JSON Schema (so every
field error names its path), by the `open-data-contract-standard` pydantic
model, and by compiling its check plan (so a rule that cannot be evaluated
refuses to load). The platform's own fields live in `customProperties`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from open_data_contract_standard.model import (
    DataQuality,
    OpenDataContractStandard,
    SchemaProperty,
)

from lakemesh.contracts.compiler import compile_plan
from lakemesh.contracts.partitioning import GRAINS, Partitioning
from lakemesh.contracts.plan import CheckPlan, Column, QualityRule
from lakemesh.errors import ContractInvalid

__all__ = [
    "Contract",
    "contract_from_document",
    "load_contract",
    "load_contracts",
]

WriteMode = Literal["overwrite", "append", "merge"]
Access = Literal["public", "internal", "private"]
Producer = Literal["python", "dbt", "spark", "model"]

_WRITE_MODES = ("overwrite", "append", "merge")
_ACCESS_LEVELS = ("public", "internal", "private")
_PRODUCERS = ("python", "dbt", "spark", "model")


@dataclass(frozen=True, kw_only=True)
class Contract:
    """A product's contract as the platform uses it."""

    path: Path
    id: str
    version: str
    status: str
    domain: str
    product: str
    owner: str
    description: str
    columns: tuple[Column, ...]
    """The plan's typed columns, in the contract's order."""
    quality: tuple[QualityRule, ...]
    write_mode: WriteMode
    access: Access
    producer: Producer
    freshness_hours: float | None
    retention_hours: float
    retain_versions: int
    partitioning: Partitioning | None = None
    """Its time partitions, when one column is declared `partitioned`."""
    document: OpenDataContractStandard = field(repr=False, compare=False)
    plan: CheckPlan = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        """`<domain>.<product>`: the one name used everywhere."""
        return f"{self.domain}.{self.product}"

    @property
    def primary_key(self) -> tuple[str, ...]:
        keyed = [c for c in self.columns if c.primary_key]
        return tuple(c.name for c in sorted(keyed, key=lambda c: c.primary_key_position or 0))

    @property
    def major_version(self) -> int:
        """The semantic version's major number: a breaking change needs it raised."""
        return int(self.version.split(".")[0])

    def to_json(self) -> str:
        """The ODCS document as compact JSON, as it is kept with every published version."""
        return self.document.model_dump_json(exclude_none=True, by_alias=True)


@cache
def _odcs_json_schema() -> dict[str, Any]:
    schema = OpenDataContractStandard.json_schema()
    return json.loads(schema) if isinstance(schema, str) else schema


def _field_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "<root>"


def _custom_properties(props: list[Any] | None) -> dict[str, Any]:
    return {p.property: p.value for p in props or [] if p.property}


_HOURS_PER_UNIT = {
    "m": 1 / 60,
    "h": 1,
    "hour": 1,
    "hours": 1,
    "d": 24,
    "day": 24,
    "days": 24,
    "w": 24 * 7,
    "y": 24 * 365,
}
_SEMVER = re.compile(r"\d+\.\d+\.\d+")
DEFAULT_RETENTION_HOURS = 7 * 24.0
"""Old versions stay readable a week by default: Delta's own default for removed files."""
DEFAULT_RETAIN_VERSIONS = 10
"""And the newest ten versions are kept readable whatever their age."""


class _JsonYamlLoader(yaml.SafeLoader):
    """YAML as the JSON it stands for: `1992-01-01` stays a string, as ODCS (a JSON schema) expects it."""


_JsonYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_contract(path: Path | str) -> Contract:
    """Read and check `contracts/<domain>/<product>.yaml`."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_JsonYamlLoader)
    except FileNotFoundError:
        raise ContractInvalid(path, "<file>", "the file does not exist") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "<file>"
        raise ContractInvalid(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return contract_from_document(raw, path=path)


def contract_from_document(raw: Any, *, path: Path) -> Contract:
    """A contract from an ODCS document in memory (e.g. the one a published version was made under).

    `path` is where the product's contract lives: `<domain>/<product>.yaml` names the product.
    """
    if not isinstance(raw, dict):
        raise ContractInvalid(path, "<root>", "a contract is a YAML mapping")

    validator = jsonschema.Draft202012Validator(_odcs_json_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: (len(e.absolute_path), e.message))
    if errors:
        first = errors[0]
        raise ContractInvalid(path, _field_path(first.absolute_path), f"not valid ODCS: {first.message}")
    try:
        document = OpenDataContractStandard(**raw)
    except Exception as exc:  # pydantic.ValidationError carries the location
        loc = exc.errors()[0]["loc"] if hasattr(exc, "errors") else ()
        raise ContractInvalid(path, _field_path(loc), f"not valid ODCS: {exc}") from None
    return _to_contract(path, document)


def _to_contract(path: Path, doc: OpenDataContractStandard) -> Contract:
    domain, product = path.parent.name, path.stem

    def fail(field_path: str, reason: str) -> ContractInvalid:
        return ContractInvalid(path, field_path, reason)

    if doc.kind != "DataContract":
        raise fail("kind", f"must be 'DataContract', got {doc.kind!r}")
    if doc.domain != domain:
        raise fail("domain", f"must be {domain!r} (the contract's folder), got {doc.domain!r}")
    if not _PRODUCT_NAME.fullmatch(product) or not _PRODUCT_NAME.fullmatch(domain):
        raise fail("dataProduct", f"domain and product names are lower-case snake_case, got {domain}.{product}")
    if doc.dataProduct != product:
        raise fail("dataProduct", f"must be {product!r} (the file name), got {doc.dataProduct!r}")
    if not doc.schema_ or len(doc.schema_) != 1:
        raise fail("schema", "must hold exactly one object, the product's table")
    table = doc.schema_[0]
    if table.name != product:
        raise fail("schema[0].name", f"must be {product!r}, got {table.name!r}")
    if not table.properties:
        raise fail("schema[0].properties", "a product needs at least one column")

    team = doc.team
    owner = team.name if team is not None and not isinstance(team, list) else None
    if not owner:
        raise fail("team.name", "every product needs an owning team")

    custom = _custom_properties(doc.customProperties)
    write_mode = custom.get("writeMode", "overwrite")
    access = custom.get("access", "internal")
    producer = custom.get("producer")
    for key, value, allowed in (
        ("writeMode", write_mode, _WRITE_MODES),
        ("access", access, _ACCESS_LEVELS),
        ("producer", producer, _PRODUCERS),
    ):
        if value not in allowed:
            raise fail(f"customProperties.{key}", f"must be one of {allowed}, got {value!r}")

    for i, prop in enumerate(table.properties):
        _check_property(prop, f"schema[0].properties[{i}]", fail)
    names = [prop.name for prop in table.properties]
    if len(set(names)) != len(names):
        raise fail("schema[0].properties", f"duplicate column names in {names}")
    if write_mode == "merge" and not any(prop.primaryKey for prop in table.properties):
        raise fail("customProperties.writeMode", "'merge' needs a primary key to merge on")
    partitioning = _partitioning(table.properties, fail)

    quality = [_to_rule(rule, None, f"schema[0].quality[{i}]", fail) for i, rule in enumerate(table.quality or [])]
    for i, prop in enumerate(table.properties):
        quality += [
            _to_rule(rule, prop.name, f"schema[0].properties[{i}].quality[{j}]", fail)
            for j, rule in enumerate(prop.quality or [])
        ]
    rule_names = [r.name for r in quality]
    if len(set(rule_names)) != len(rule_names):
        raise fail("quality", f"quality rule names must be unique, got {rule_names}")

    if not _SEMVER.fullmatch(doc.version or ""):
        raise fail("version", f"must be a semantic version such as 1.0.0, got {doc.version!r}")
    sla = {}
    for i, prop in enumerate(doc.slaProperties or []):
        if prop.property in ("freshness", "retention"):
            unit = (prop.unit or "h").lower()
            if unit not in _HOURS_PER_UNIT or not isinstance(prop.value, int | float) or prop.value <= 0:
                raise fail(
                    f"slaProperties[{i}]", f"{prop.property} needs a positive number and a unit of m, h, d, w or y"
                )
            sla[prop.property] = float(prop.value) * _HOURS_PER_UNIT[unit]
    retain_versions = custom.get("retainVersions", DEFAULT_RETAIN_VERSIONS)
    if not isinstance(retain_versions, int) or isinstance(retain_versions, bool) or retain_versions < 1:
        raise fail("customProperties.retainVersions", f"must be a whole number of at least 1, got {retain_versions!r}")

    description = doc.description
    text = (description.purpose or description.usage or "") if description else ""
    plan = compile_plan(f"{domain}.{product}", table.properties, quality, fail=fail)
    return Contract(
        path=path,
        id=doc.id or "",
        version=doc.version or "",
        status=doc.status or "",
        domain=domain,
        product=product,
        owner=owner,
        description=(table.description or text).strip(),
        columns=plan.columns,
        quality=tuple(quality),
        write_mode=write_mode,
        access=access,
        producer=producer,
        freshness_hours=sla.get("freshness"),
        retention_hours=sla.get("retention", DEFAULT_RETENTION_HOURS),
        retain_versions=retain_versions,
        partitioning=partitioning,
        document=doc,
        plan=plan,
    )


def _partitioning(properties: list[SchemaProperty], fail: Any) -> Partitioning | None:
    """The time partitions the properties declare: one `partitioned` required date, its grain and first day."""
    for i, prop in enumerate(properties):
        if prop.partitionKeyPosition is not None and not prop.partitioned:
            raise fail(f"schema[0].properties[{i}].partitionKeyPosition", "is only for a column with partitioned: true")
    declared = [(i, prop) for i, prop in enumerate(properties) if prop.partitioned]
    if not declared:
        return None
    if len(declared) > 1:
        names = [prop.name for _, prop in declared]
        where = f"schema[0].properties[{declared[1][0]}].partitioned"
        raise fail(where, f"one column partitions a product, got {names}")
    i, prop = declared[0]
    where = f"schema[0].properties[{i}]"
    if prop.partitionKeyPosition not in (None, 1):
        position = prop.partitionKeyPosition
        raise fail(f"{where}.partitionKeyPosition", f"must be 1 (the one partition column), got {position}")
    if prop.logicalType != "date" or not prop.required:
        kind = f"{'a required' if prop.required else 'an optional'} {prop.logicalType}"
        raise fail(f"{where}.partitioned", f"a partition column is a required date; {prop.name!r} is {kind}")
    custom = _custom_properties(prop.customProperties)
    grain = custom.get("partitionGrain")
    if grain not in GRAINS:
        raise fail(f"{where}.customProperties.partitionGrain", f"must be one of {', '.join(GRAINS)}, got {grain!r}")
    try:
        start = date.fromisoformat(str(custom.get("partitionStart")))
        if start.year < 1000:  # keys are written with four-digit years
            raise ValueError(start)
    except ValueError:
        raise fail(
            f"{where}.customProperties.partitionStart",
            f"the first partition's day, such as 1992-01-01, got {custom.get('partitionStart')!r}",
        ) from None
    lookback = custom.get("partitionLookback", 0)
    if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 0:
        raise fail(
            f"{where}.customProperties.partitionLookback",
            f"the partitions before its own a partition reads of its inputs: a whole number from 0, got {lookback!r}",
        )
    partitioning = Partitioning(column=prop.name, grain=grain, start=start)
    first, _ = partitioning.window(partitioning.key_of(start))  # a month's or a year's first day
    return Partitioning(column=prop.name, grain=grain, start=first, lookback=lookback)


def _check_property(prop: SchemaProperty, where: str, fail: Any) -> None:
    """A column's name and logical type, checked before anything refers to them; the compiler types the rest."""
    if not prop.name or not _COLUMN_NAME.fullmatch(prop.name):
        raise fail(f"{where}.name", f"a column name is letters, digits and '_' (not first), got {prop.name!r}")
    if not prop.logicalType:
        raise fail(f"{where}.logicalType", f"column {prop.name!r} needs a logicalType")


_OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRODUCT_NAME = re.compile(r"[a-z][a-z0-9_]*")
_RULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues", "rowCount")


def _to_rule(rule: DataQuality, column: str | None, where: str, fail: Any) -> QualityRule:
    kind = rule.type or "library"
    if kind not in ("library", "sql"):
        raise fail(f"{where}.type", f"the platform enforces 'library' and 'sql' rules, got {kind!r}")
    metric = rule.metric or rule.rule
    if kind == "library" and metric not in _METRICS:
        raise fail(f"{where}.metric", f"must be one of {_METRICS}, got {metric!r}")
    if kind == "sql" and not rule.query:
        raise fail(f"{where}.query", "a 'sql' rule needs a query")
    operators = [(op, getattr(rule, op)) for op in _OPERATORS if getattr(rule, op) is not None]
    if len(operators) != 1:
        raise fail(where, "a quality rule needs exactly one operator such as mustBe")
    operator, threshold = operators[0]
    name = rule.name or (f"{column}__{metric}" if column else (metric or "sql"))
    if not _RULE_NAME.fullmatch(name):
        raise fail(f"{where}.name", f"a rule name is letters, digits and '_', got {name!r}")
    return QualityRule(
        name=name,
        column=column,
        metric=metric if kind == "library" else None,
        query=rule.query if kind == "sql" else None,
        arguments=dict(rule.arguments or {}),
        operator=operator,
        threshold=threshold,
        unit=rule.unit or "rows",
        description=rule.description,
        where=where,
    )


def load_contracts(contracts_dir: Path, *, domain: str | None = None) -> dict[str, Contract]:
    """Every contract under `contracts/` (or one domain's), keyed by product name."""
    pattern = f"{domain}/*.yaml" if domain else "*/*.yaml"
    contracts = {}
    for path in sorted(contracts_dir.glob(pattern)):
        contract = load_contract(path)
        contracts[contract.name] = contract
    return contracts
