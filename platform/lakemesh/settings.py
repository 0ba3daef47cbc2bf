"""Where the lakehouse, the landing zone, the catalog and the DuckDB files live.

Everything is configured by environment variables so that a Dagster code
location, the CLI and a test all agree without passing paths around.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from lakemesh.errors import LakemeshError, ProductNotFound

__all__ = [
    "PRODUCT_NAMESPACE_SCHEME",
    "Settings",
    "find_project_dir",
    "json_strings_from_env",
    "split_product_name",
]

PRODUCT_NAMESPACE_SCHEME = "lakemesh://"
"""Products' OpenLineage namespace is `lakemesh://<lakehouse>` (`Settings.namespace`): the name every storage name
of a product resolves to. Here, not with the other naming rules in `lakemesh.lineage.naming`: the settings compute it,
and lineage sits above them."""

_REMOTE_SCHEMES = ("s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://")


def find_project_dir(start: Path | None = None, *, required: bool = True) -> Path | None:
    """The repository root: the nearest folder holding `workspace.yaml` and `contracts/`."""
    if env := os.environ.get("LAKEMESH_PROJECT_DIR"):
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "workspace.yaml").is_file() and (folder / "contracts").is_dir():
            return folder
    if not required:
        return None
    raise LakemeshError(
        f"no Lakemesh project (a folder with workspace.yaml and contracts/) at or above {here}; "
        "run from the repository or set LAKEMESH_PROJECT_DIR"
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Resolved locations of everything the platform reads and writes."""

    lakehouse: str
    landing: Path
    catalog_url: str
    duckdb_dir: Path
    outbox_dir: Path
    logs_dir: Path
    """Run logs of `lakemesh run` (Dagster's and dbt's messages): `LAKEMESH_LOGS`, default `<lakehouse>/_logs`."""
    project_root: Path | None
    """The repository (contracts, dbt project, workspace); None for a consumer reading from elsewhere."""
    local_dir: Path
    """The local folder of the lakehouse's sidecars: the lakehouse itself when local, else `<project>/.lakemesh`."""
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)
    """Passed to every deltalake call (object-store credentials, endpoints): `LAKEMESH_STORAGE_OPTIONS` as JSON."""

    @classmethod
    def from_env(cls, *, project_dir: Path | None = None) -> Settings:
        """Read `LAKEMESH_*` variables; local sidecars default to folders in the lakehouse.

        A relative path, the default `./lakehouse` included, is relative to the project root (the folder holding
        `workspace.yaml`), whatever the working directory: one project has one lakehouse. Outside a project it is
        relative to the working directory. The catalog is `LAKEMESH_CATALOG_URL` (any SQLAlchemy URL, e.g.
        PostgreSQL) when set, else the SQLite file `LAKEMESH_CATALOG` (default `<lakehouse>/_catalog.sqlite`).
        Undelivered lineage events wait in `LAKEMESH_OUTBOX` (default `<lakehouse>/_outbox`).
        """
        project_root = project_dir or find_project_dir(required=False)
        base = project_root or Path.cwd()

        def local(variable: str, default: Path) -> Path:
            """The variable's path, else `default`, against the project root."""
            return (base / Path(os.environ.get(variable) or default).expanduser()).resolve()

        lakehouse = os.environ.get("LAKEMESH_LAKEHOUSE") or "lakehouse"
        remote = lakehouse.startswith(_REMOTE_SCHEMES)
        local_root = base / ".lakemesh" if remote else local("LAKEMESH_LAKEHOUSE", Path(lakehouse))
        return cls(
            lakehouse=lakehouse.rstrip("/") if remote else str(local_root),
            landing=local("LAKEMESH_LANDING", local_root / "_landing"),
            catalog_url=os.environ.get("LAKEMESH_CATALOG_URL")
            or f"sqlite:///{local('LAKEMESH_CATALOG', local_root / '_catalog.sqlite')}",
            duckdb_dir=local("LAKEMESH_DUCKDB_DIR", local_root / "_duckdb"),
            outbox_dir=local("LAKEMESH_OUTBOX", local_root / "_outbox"),
            logs_dir=local("LAKEMESH_LOGS", local_root / "_logs"),
            project_root=project_root,
            local_dir=local_root,
            storage_options=json_strings_from_env("LAKEMESH_STORAGE_OPTIONS"),
        )

    @property
    def project_dir(self) -> Path:
        """The repository root, for everything but reading products."""
        return self.project_root or find_project_dir()

    @property
    def namespace(self) -> str:
        """The OpenLineage dataset namespace of every product in this lakehouse."""
        return f"{PRODUCT_NAMESPACE_SCHEME}{self.lakehouse}"

    def contract_paths(self) -> dict[str, Path]:
        """Every product that has a contract file, by name: names only, so one broken contract breaks no other."""
        files = sorted((self.project_dir / "contracts").glob("*/*.yaml"))
        return {f"{path.parent.name}.{path.stem}": path for path in files}

    def table_uri(self, product: str) -> str:
        """`<lakehouse>/<domain>/<product>` for a product named `<domain>.<product>`."""
        domain, name = split_product_name(product)
        return f"{self.lakehouse}/{domain}/{name}"

    def quarantine_uri(self, product: str) -> str:
        """Refused rows of a product land beside it, in `<domain>/_quarantine/<product>`."""
        domain, name = split_product_name(product)
        return f"{self.lakehouse}/{domain}/_quarantine/{name}"


def json_strings_from_env(variable: str) -> dict[str, str]:
    """An environment variable holding a JSON object of strings (storage options, Spark conf); {} when unset."""
    text = os.environ.get(variable)
    if not text:
        return {}
    try:
        found = json.loads(text)
    except json.JSONDecodeError as error:
        raise LakemeshError(f"{variable} must be a JSON object of strings: {error}") from None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise LakemeshError(f"{variable} must be a JSON object of strings, got {text[:80]!r}")
    return found


def split_product_name(product: str) -> tuple[str, str]:
    """Split `<domain>.<product>`, refusing anything else."""
    parts = product.split(".")
    if len(parts) != 2 or not all(parts):
        raise ProductNotFound(f"a product name is '<domain>.<product>', got {product!r}")
    return parts[0], parts[1]
