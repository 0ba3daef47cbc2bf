"""dbt models read only published, pinned sources, in dependency order, and a failed build publishes nothing."""

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml
from deltalake import DeltaTable
from lakemesh import DefinitionsInvalid, domain_definitions
from lakemesh.orchestration.mesh import materialize_mesh
from lakemesh.orchestration.status import MeshRun
from lakemesh.settings import Settings

from domains.customers import products as customers_products
from domains.sales import products as sales_products

from ...conftest import copy_project, exited_pid
from ..conftest import contract_doc

pytestmark = pytest.mark.slow

PRICING = Path("dbt_project/models/sales/pricing_summary.sql")
LINE_ITEMS_SOURCE = "{{ source('sales', 'line_items') }}"


def _materialize(defs: dg.Definitions, *keys: str) -> MeshRun:
    """The selected products built as `lakemesh run --select` builds them (a partitioned one over every partition);
    without any, every asset that is not up to date."""
    selected = {dg.AssetKey(k.split(".")) for k in keys} or None
    log_file = Settings.from_env().logs_dir / "test.log"
    return materialize_mesh({"domain": defs}, instance=dg.DagsterInstance.ephemeral(), log_file=log_file,
                            selected=selected)  # fmt: skip


def _version(settings: Settings, product: str) -> int | None:
    path = Path(settings.table_uri(product))
    return DeltaTable(str(path)).version() if path.exists() else None


def _failure(result: MeshRun, step: str) -> str:
    (failure,) = [e for e in result.all_events if e.is_step_failure and e.step_key == step]
    return failure.step_failure_data.error.message


@pytest.mark.parametrize(
    ("replacement", "refused"),
    [
        ("read_parquet('{lakehouse}/supply/part_suppliers/*.parquet')", r"calls READ_PARQUET\('.*part_suppliers"),
        ("'{lakehouse}/sales/line_items/part-0.parquet'", r"reads \".*line_items/part-0.parquet\", which is not one"),
        ("delta_scan('{lakehouse}/supply/part_suppliers')", r"calls DELTA_SCAN\("),
        ("glob('{lakehouse}/*')", r"calls GLOB\("),
        ("other_db.main.line_items", r"reads other_db.main.line_items, which is not one of its declared sources"),
        ("{{{{ ref('revenue_by_nation') }}}}", r"reads the model revenue_by_nation with ref\(\)"),
    ],
    ids=["read_parquet", "file-as-table", "delta_scan", "glob", "attached-database", "ref-to-sibling"],
)
def test_a_model_reading_anything_but_its_sources_refuses_to_load(
    tmp_path: Path, settings: Settings, replacement: str, refused: str
):
    project = copy_project(tmp_path)
    model = project / PRICING
    model.write_text(model.read_text().replace(LINE_ITEMS_SOURCE, replacement.format(lakehouse=settings.lakehouse)))
    with pytest.raises(
        DefinitionsInvalid, match=r"dbt model sales.pricing_summary \(models/sales/pricing_summary.sql\) " + refused
    ):
        domain_definitions("sales", products=sales_products, project_dir=project)
    assert not Path(settings.lakehouse, "sales").exists()  # nothing ran, nothing was published


@pytest.mark.parametrize(
    ("where", "text", "refused"),
    [
        (
            "model",
            "{{ config(pre_hook=\"attach '/tmp/o.duckdb' as o\") }}\n",
            r"sales.pricing_summary .* has a hook .*attach",
        ),
        ("model", "{{ config(sql_header=\"attach '/tmp/o.duckdb' as o\") }}\n", r"sales.pricing_summary .* has a hook"),
        ("project", 'on-run-start: ["create table main.hook_ran as select 1"]\n', r"on-run-start/on-run-end hooks"),
    ],
    ids=["pre_hook", "sql_header", "on-run-start"],
)
def test_sql_run_outside_the_model_refuses_to_load(
    tmp_path: Path, settings: Settings, where: str, text: str, refused: str
):
    project = copy_project(tmp_path)
    target = project / (PRICING if where == "model" else Path("dbt_project/dbt_project.yml"))
    target.write_text(text + target.read_text() if where == "model" else target.read_text() + text)
    with pytest.raises(DefinitionsInvalid, match=refused):
        domain_definitions("sales", products=sales_products, project_dir=project)


def test_a_landing_source_cannot_name_a_path(tmp_path: Path, settings: Settings):
    project = copy_project(tmp_path)
    (project / "dbt_project/models/sales/extra_sources.yml").write_text(
        "version: 2\nsources:\n  - name: extra\n    tables:\n      - name: parts\n"
        f"        config: {{meta: {{plugin: lakemesh, landing: '{settings.lakehouse}/supply/part_suppliers/part'}}}}\n"
    )
    model = project / PRICING
    model.write_text(model.read_text().replace("-- sales.pricing_summary", "-- {{ source('extra', 'parts') }}"))
    with pytest.raises(DefinitionsInvalid, match=r"sales.pricing_summary .* reads the landing table '/.*': a landing"):
        domain_definitions("sales", products=sales_products, project_dir=project)


def test_a_removed_model_is_gone_at_the_next_load(tmp_path: Path, settings: Settings):
    project = copy_project(tmp_path)
    pricing = dg.AssetKey(["sales", "pricing_summary"])

    def sales_assets() -> set[dg.AssetKey]:
        defs = domain_definitions("sales", products=sales_products, project_dir=project)
        return set(defs.resolve_asset_graph().get_all_asset_keys())

    assert pricing in sales_assets()
    (project / PRICING).unlink()
    (project / "contracts/sales/pricing_summary.yaml").unlink()
    assert pricing not in sales_assets()


def test_a_model_that_does_not_compile_stops_only_its_own_location(tmp_path: Path, settings: Settings):
    project = copy_project(tmp_path)
    model = project / PRICING
    model.write_text("{{ exceptions.raise_compiler_error('no pricing today') if execute }}\n" + model.read_text())
    with pytest.raises(DefinitionsInvalid, match=r"sales.pricing_summary .* did not compile: .*no pricing today"):
        domain_definitions("sales", products=sales_products, project_dir=project)
    assert domain_definitions("customers", products=customers_products, project_dir=project).resolve_asset_graph()


def test_a_failed_build_publishes_nothing_and_says_why(tmp_path: Path, settings: Settings):
    project = copy_project(tmp_path)
    first = _materialize(domain_definitions("customers", products=customers_products, project_dir=project))
    assert first.success and _version(settings, "customers.nation") == 0
    model = project / "dbt_project/models/customers/nation.sql"
    model.write_text(
        model.read_text().replace("n.n_nationkey as nation_key", "cast(n.n_name as integer) as nation_key")
    )
    orphan = settings.duckdb_dir / f"nation.{exited_pid()}.abcdefgh"  # the folder of a step killed mid-build
    orphan.mkdir()

    again = _materialize(
        domain_definitions("customers", products=customers_products, project_dir=project), "customers.nation"
    )

    assert not again.success
    message = _failure(again, "customers__nation")
    assert "dbt build of models/customers/nation.sql failed" in message and "Conversion Error" in message
    assert _version(settings, "customers.nation") == 0  # the previous build's rows were not published again
    assert not again.get_asset_materialization_events()
    assert not orphan.exists()  # the killed step's folder is removed by the next step
    assert not list(settings.duckdb_dir.iterdir())  # and the failed step's own too


def _add_return_flags(project: Path) -> None:
    """A sales model reading its sibling product sales.pricing_summary, as a source."""
    (project / "dbt_project/models/sales/return_flags.sql").write_text(
        "select return_flag, cast(sum(count_order) as bigint) as line_count\n"
        "from {{ source('sales', 'pricing_summary') }}\ngroup by return_flag\n"
    )
    doc = contract_doc(
        "sales.return_flags",
        columns=[
            {"name": "return_flag", "logicalType": "string", "physicalType": "varchar", "required": True,
             "primaryKey": True},
            {"name": "line_count", "logicalType": "integer", "physicalType": "bigint", "required": True},
        ],
        custom={"producer": "dbt"},
    )  # fmt: skip
    (project / "contracts/sales/return_flags.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_sibling_is_read_at_its_published_version_and_a_refused_one_stops_its_dependants(
    tmp_path: Path, settings: Settings
):
    project = copy_project(tmp_path)
    _add_return_flags(project)
    defs = domain_definitions("sales", products=sales_products, project_dir=project)
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey(["sales", "pricing_summary"]) in graph.get(dg.AssetKey(["sales", "return_flags"])).parent_keys

    first = _materialize(defs, "sales.line_items", "sales.pricing_summary", "sales.return_flags")
    assert first.success
    commit = DeltaTable(settings.table_uri("sales.return_flags")).history(1)[0]
    assert json.loads(commit["lakemesh.inputs"]) == {"sales.pricing_summary": 0}

    model = project / PRICING
    model.write_text(model.read_text().replace("    return_flag,\n", "    cast(null as varchar) as return_flag,\n", 1))
    again = _materialize(
        domain_definitions("sales", products=sales_products, project_dir=project),
        "sales.line_items",
        "sales.pricing_summary",
        "sales.return_flags",
    )

    assert "return_flag" in _failure(again, "sales__pricing_summary")  # refused by its contract
    published = {e.asset_key.to_user_string() for e in again.get_asset_materialization_events()}
    assert published == {"sales/line_items"}
    started = {e.step_key for e in again.all_events if e.event_type == dg.DagsterEventType.STEP_START}
    assert "sales__return_flags" not in started  # not built from the refused batch, nor from the old version
    assert _version(settings, "sales.pricing_summary") == 0 and _version(settings, "sales.return_flags") == 0
