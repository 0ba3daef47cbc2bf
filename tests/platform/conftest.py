"""Contracts written for a test: a small ODCS v3 document per product, in a project of the test's own."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from lakemesh import Contract, Settings, load_contract

from ..conftest import PROJECT_DIR


def contract_doc(
    product: str = "shop.events",
    *,
    columns: list[dict[str, Any]],
    quality: list[dict[str, Any]] | None = None,
    mode: str = "overwrite",
    access: str = "public",
    version: str = "1.0.0",
    custom: dict[str, Any] | None = None,
    sla: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An ODCS v3 contract for `<domain>.<product>` owned by team `shop-team`."""
    domain, name = product.split(".")
    table: dict[str, Any] = {"name": name, "physicalType": "table", "properties": columns}
    if quality:
        table["quality"] = quality
    properties = {"writeMode": mode, "access": access, "producer": "python", **(custom or {})}
    doc = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": f"urn:test:{domain}:{name}",
        "version": version,
        "status": "active",
        "domain": domain,
        "dataProduct": name,
        "team": {"name": f"{domain}-team"},
        "description": {"purpose": f"Test product {product}."},
        "schema": [table],
        "customProperties": [{"property": k, "value": v} for k, v in properties.items()],
    }
    if sla:
        doc["slaProperties"] = sla
    return doc


def write_contract(project: Path, doc: dict[str, Any]) -> Contract:
    """Write `doc` to `<project>/contracts/<domain>/<product>.yaml` and load it."""
    path = project / "contracts" / doc["domain"] / f"{doc['dataProduct']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_contract(path)


@pytest.fixture
def project(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of the test's own (contracts only) over the test's lakehouse."""
    root = tmp_path / "project"
    (root / "contracts").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "workspace.yaml", root / "workspace.yaml")
    monkeypatch.setenv("LAKEMESH_PROJECT_DIR", str(root))
    return root
