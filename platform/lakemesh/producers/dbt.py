"""dbt models as data products: every input a pinned, published product; each model its own step.

A model's compiled SQL must read its declared sources and nothing else: no
`read_parquet`, `ATTACH`ed databases, `ref()` to another model or hooks. A
step builds its model in the warm dbt worker, in a DuckDB file and target of
its own (runs never share mutable state), with its inputs pinned in a file of
its own, and hands the result to the publish path.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from lakemesh.contracts import Contract
from lakemesh.errors import DefinitionsInvalid, LakemeshError, LandingDataBad
from lakemesh.lineage import InputRef, sql_column_lineage, sql_dataset_lineage
from lakemesh.processes import process_exited
from lakemesh.producers.dbt_worker import dbt_one_line, dbt_worker
from lakemesh.producers.inputs import PartitionReads
from lakemesh.producers.producer import ProductBuild
from lakemesh.settings import Settings
from lakemesh.sql import query_reads
from lakemesh.storage.landing import checked_landing_file, landing_columns, landing_path

if TYPE_CHECKING:
    from dbt.artifacts.resources import ModelNode
    from dbt.artifacts.schemas.manifest import WritableManifest

__all__ = ["DATABASE", "DbtBuildFailed", "DbtModel", "build_model", "check_model_sql", "dbt_vars", "source_reads"]

DATABASE = "lakemesh_model"
"""Every model's DuckDB file has this name: the compiled relations name it, whatever folder it is in."""


def dbt_vars(settings: Settings, *, folder: Path, pins: Path | None) -> str:
    """The `--vars` of one dbt command: where the lakehouse and landing are, the DuckDB file, the pinned versions."""
    return json.dumps(
        {
            "lakemesh_lakehouse": settings.lakehouse,
            "lakemesh_landing": str(settings.landing),
            "lakemesh_duckdb_path": str(folder / f"{DATABASE}.duckdb"),
            "lakemesh_input_versions": str(pins) if pins else "",
        }
    )


class DbtBuildFailed(LakemeshError):
    """dbt did not build a model; `output` is the tail of dbt's log."""

    def __init__(self, message: str, *, output: str) -> None:
        self.output = output
        super().__init__(message)


@dataclass(frozen=True, kw_only=True)
class DbtModel:
    """One model of the dbt project: what it reads, as compiled."""

    unique_id: str
    name: str
    domain: str
    schema: str
    alias: str
    checksum: str
    path: str
    compiled_code: str | None
    compile_error: str
    hooks: list[str]
    refs: list[str]
    products: list[str]
    landing: list[str]
    relations: dict[tuple[str, str, str], str]
    """(database, schema, identifier) of each declared source, lower case: how its SQL names it."""
    project_dir: Path
    manifest_path: Path

    @classmethod
    def of(
        cls,
        node: ModelNode,
        manifest: WritableManifest,
        *,
        compiled: Mapping[str, str | None],
        project_dir: Path,
        manifest_path: Path,
    ) -> DbtModel:
        """The model as dbt's typed manifest describes it, with its compiled SQL (or why it did not compile)."""
        config = node.config
        hooks = [hook.sql for hook in [*config.pre_hook, *config.post_hook]]
        if config.get("sql_header"):
            hooks.append(config.get("sql_header"))
        sources = [manifest.sources[s] for s in node.depends_on.nodes if s.startswith("source.")]
        metas = [s.config.meta for s in sources]
        return cls(
            unique_id=node.unique_id,
            name=node.name,
            domain=node.fqn[1] if len(node.fqn) > 2 else "",
            schema=node.schema,
            alias=node.alias or node.name,
            checksum=node.checksum.checksum[:16],
            path=node.original_file_path,
            compiled_code=compiled.get("code"),
            compile_error=compiled.get("error") or "see dbt_project/target/compile.log",
            hooks=hooks,
            refs=sorted(n.split(".")[-1] for n in node.depends_on.nodes if n.startswith("model.")),
            products=sorted(m["product"] for m in metas if "product" in m),
            landing=sorted(m["landing"] for m in metas if "landing" in m),
            relations={
                ((s.database or "").lower(), s.schema.lower(), (s.identifier or s.name).lower()): (
                    f"source('{s.source_name}', '{s.name}')"
                )
                for s in sources
            },
            project_dir=project_dir,
            manifest_path=manifest_path,
        )

    def record(self) -> dict[str, Any]:
        """The model as JSON, kept beside the manifest: a code location loads it without importing dbt."""
        fields = {k: v for k, v in vars(self).items() if k not in ("relations", "project_dir", "manifest_path")}
        return fields | {"relations": [[*key, label] for key, label in self.relations.items()]}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, project_dir: Path, manifest_path: Path) -> DbtModel:
        relations = {(db, schema, name): label for db, schema, name, label in record["relations"]}
        fields = {k: v for k, v in record.items() if k != "relations"}
        return cls(**fields, relations=relations, project_dir=project_dir, manifest_path=manifest_path)

    @property
    def product(self) -> str:
        return f"{self.domain}.{self.name}"

    @property
    def kind(self) -> str:
        return "dbt"

    def in_domain(self, domain: str) -> DbtModel:
        """A model's domain is its folder under `models/`."""
        return self

    @property
    def reads(self) -> list[str]:
        return self.products

    def check(self, contract: Contract, *, contracts: Mapping[str, Contract]) -> None:
        """What the model compiled to reads its declared sources only."""
        check_model_sql(self, self.compiled_code)


def check_model_sql(model: DbtModel, compiled_sql: str | None) -> None:
    """A model reads its declared sources and nothing else; refused naming the model and what it reads."""
    where = f"dbt model {model.product} ({model.path})"
    if model.refs:
        raise DefinitionsInvalid(
            f"{where} reads the model {model.refs[0]} with ref(): read a product as a source, "
            f"source('<domain>', '<product>'), so that its published, pinned version is read"
        )
    if model.hooks:
        raise DefinitionsInvalid(f"{where} has a hook ({model.hooks[0][:60]!r}): hooks run SQL outside the gate")
    for table in model.landing:
        try:
            landing_path(Path("landing"), table)
        except LandingDataBad as error:
            raise DefinitionsInvalid(f"{where} reads the landing table {table!r}: {error.reason}") from None
    if compiled_sql is None:
        raise DefinitionsInvalid(f"{where} did not compile: {model.compile_error}")
    try:
        reads = query_reads(compiled_sql)
    except ValueError as error:
        raise DefinitionsInvalid(f"{where}: the compiled SQL {error}") from None
    if reads.outside_calls:
        raise DefinitionsInvalid(
            f"{where} calls {reads.outside_calls[0]}: a model reads its declared sources only "
            "(files and other databases are not published products)"
        )
    for node in reads.relations:
        parts = tuple(p.lower() for p in (node.catalog, node.db, node.name))
        if parts not in model.relations:
            raise DefinitionsInvalid(
                f"{where} reads {node.sql(dialect='duckdb')}, which is not one of its declared sources "
                f"({', '.join(sorted(model.relations.values())) or 'none'})"
            )


def _relations(
    model: DbtModel, *, contracts: Mapping[str, Contract], pinned: Mapping[str, int], settings: Settings
) -> dict[tuple[str, str], tuple[InputRef, Mapping[str, str]]]:
    """What a model's compiled SQL reads, for lineage: its sources are products and landing files."""
    relations: dict[tuple[str, str], tuple[InputRef, Mapping[str, str]]] = {}
    for product in model.products:
        ref = InputRef.of_product(product, settings=settings, version=pinned[product])
        columns = {c.name: c.physical_type or c.logical_type for c in contracts[product].columns}
        relations[tuple(product.split("."))] = (ref, columns)
    for table in model.landing:
        ref = InputRef(namespace="file", name=str(landing_path(settings.landing, table)))
        relations[("landing", table)] = (ref, landing_columns(settings.landing, table))
    return relations


def _remove_abandoned_folders(duckdb_dir: Path) -> None:
    """Step folders of processes that died without cleaning up (killed with SIGKILL): `<model>.<pid>.<random>`."""
    for folder in duckdb_dir.iterdir():
        parts = folder.name.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or not folder.is_dir():
            continue
        if process_exited(int(parts[1])):
            shutil.rmtree(folder, ignore_errors=True)


def _build(
    model: DbtModel,
    *,
    pinned: Mapping[str, int],
    reads: PartitionReads | None,
    settings: Settings,
    log: logging.Logger,
) -> tuple[pa.Table, str]:
    """Build one model in a DuckDB file of its own and return its rows and compiled SQL; with `reads`, its sources
    are only the days its partitions read."""
    settings.duckdb_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_folders(settings.duckdb_dir)
    folder = Path(tempfile.mkdtemp(prefix=f"{model.name}.{os.getpid()}.", dir=settings.duckdb_dir))
    try:
        pins = folder / "inputs.json"
        pins.write_text(json.dumps(source_reads(model, pinned=pinned, reads=reads)))
        log_file = folder / "dbt.log"
        invocation = dbt_worker().invoke(
            [
                "build",
                "--select",
                model.name,
                "--vars",
                dbt_vars(settings, folder=folder, pins=pins),
                "--target-path",
                str(folder / "target"),
                "--log-path",
                str(folder),
                "--no-use-colors",
                "--no-write-json",
            ],
            project_dir=model.project_dir,
            manifest=model.manifest_path,
            log_file=log_file,
        )
        output = log_file.read_text(errors="replace") if log_file.is_file() else ""
        log.debug(f"dbt build {model.name}:\n{output}")
        result = invocation.results.get(model.unique_id)
        if not invocation.success or result is None or result.status != "success":
            reason = (result.message if result else None) or invocation.error or "not built"
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise DbtBuildFailed(f"dbt build of {model.path} failed: {dbt_one_line(reason)}", output=tail)
        check_model_sql(model, result.compiled_code)  # what ran, not only what was compiled at load
        with duckdb.connect(str(folder / f"{DATABASE}.duckdb"), read_only=True) as con:
            table = con.sql(f'SELECT * FROM "{model.schema}"."{model.alias}"').to_arrow_table()
        return table, result.compiled_code or ""
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def source_reads(model: DbtModel, *, pinned: Mapping[str, int], reads: PartitionReads | None) -> dict[str, Any]:
    """What the `lakemesh` plugin reads for one build (the step's pins file): each product's pinned version and,
    for a build of some partitions, the days it reads of the landing tables and of the partitioned products (by
    their partition column)."""
    windows = {p: w for p in model.products if reads and (w := reads.rows(p))}
    return {
        "versions": dict(pinned),
        "days": [day.isoformat() for day in reads.days] if reads else None,
        "columns": {product: window.column for product, window in windows.items()},
    }


def build_model(
    model: DbtModel,
    *,
    contracts: Mapping[str, Contract],
    pinned: Mapping[str, int],
    settings: Settings,
    log: logging.Logger,
    partitions: tuple[str, str] | None = None,
) -> ProductBuild:
    """Build the model from its inputs at the pinned versions, with the lineage its compiled SQL shows.

    With `partitions` (first and last key), its sources hold only the days those partitions read (the model's SQL
    is the same: a year's build reads that year's orders and line items)."""
    reads = PartitionReads.of(contracts[model.product], partitions, inputs=contracts)
    for table in model.landing:
        checked_landing_file(settings.landing, table)  # fail before dbt starts, naming path and reason
    table, compiled = _build(model, pinned=pinned, reads=reads, settings=settings, log=log)
    relations = _relations(model, contracts=contracts, pinned=pinned, settings=settings)
    return ProductBuild(
        data=table,
        inputs=pinned,
        code_version=model.checksum,
        extra_inputs=[InputRef(namespace="file", name=str(landing_path(settings.landing, t))) for t in model.landing],
        column_lineage=sql_column_lineage(compiled, relations=relations),
        dataset_lineage=sql_dataset_lineage(compiled, relations=relations),
    )
