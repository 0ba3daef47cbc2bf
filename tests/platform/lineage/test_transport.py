"""The lineage client writes into the embedded catalog by configuration, unless OpenLineage is configured otherwise."""

from pathlib import Path

import pytest
from lakemesh.lineage import lineage_client
from lakemesh.settings import Settings


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A lakehouse with no OpenLineage configuration anywhere (environment, working folder, home)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LAKEMESH_LAKEHOUSE", str(tmp_path / "lakehouse"))
    monkeypatch.delenv("LAKEMESH_CATALOG_URL", raising=False)
    monkeypatch.delenv("LAKEMESH_CATALOG", raising=False)
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE__TRANSPORT__TYPE", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


def test_the_default_transport_is_the_catalog_named_by_its_class(bare: Settings):
    transport = lineage_client(bare).transport
    assert f"{type(transport).__module__}.{type(transport).__name__}" == "lakemesh.catalog.transport.CatalogTransport"
    assert transport.config.url == bare.catalog_url


def test_the_standard_openlineage_configuration_wins(bare: Settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9")
    assert type(lineage_client(bare).transport).__name__ == "HttpTransport"
