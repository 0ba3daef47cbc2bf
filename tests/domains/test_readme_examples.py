"""The README's 'Adding a data product' example, exactly as written: the contract, then each producer."""

import importlib.util
import re
import textwrap
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml
from lakemesh import Settings, domain_definitions, load_contract, publish, read

from domains.sales import products as sales_products

from ..conftest import PROJECT_DIR, copy_project

pytestmark = pytest.mark.slow

SECTION = (PROJECT_DIR / "README.md").read_text().split("## Adding a data product", 1)[1].split("\n## ", 1)[0]


def _block(language: str) -> str:
    """The section's one fenced block of `language`, dedented as a reader would copy it."""
    (block,) = re.findall(rf"```{language}\n(.*?)```", SECTION, flags=re.S)
    return textwrap.dedent(block)


def _project(tmp_path: Path, producer: str) -> Path:
    """A copy of the repository with the README's contract added, its producer set to `producer`."""
    project = copy_project(tmp_path)
    text = _block("yaml")
    if producer == "dbt":  # step 2 of the README: "(with `producer: dbt`)"
        text = text.replace("{property: producer, value: python}", "{property: producer, value: dbt}")
    (project / "contracts" / "sales" / "big_orders.yaml").write_text(text)
    return project


def _publish_orders(settings: Settings) -> None:
    from lakemesh.storage.landing import read_landing

    contract = load_contract(PROJECT_DIR / "contracts" / "sales" / "orders.yaml")
    frame = sales_products.orders.fn(read_landing(settings.landing, "orders").lazy())
    publish(frame, contract=contract, settings=settings, run_id=str(uuid.uuid4()))


def _expected(settings: Settings) -> pl.DataFrame:
    landing = settings.landing / "orders" / "*.parquet"
    return duckdb.sql(
        f"select o_orderkey as order_key from read_parquet('{landing}') where o_totalprice > 400000 order by 1"
    ).pl()


def test_the_contract_is_valid_as_written(tmp_path: Path):
    path = tmp_path / "contracts" / "sales" / "big_orders.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(_block("yaml"))
    contract = load_contract(path)
    assert yaml.safe_load(path.read_text())["schema"][0]["properties"][1]["physicalType"] == "decimal(15,2)"
    assert (contract.name, contract.producer, contract.retention_hours, contract.retain_versions) == (
        "sales.big_orders",
        "python",
        7 * 24.0,
        10,
    )


@pytest.mark.parametrize("producer", ["python", "dbt"])
def test_the_example_product_publishes(tmp_path: Path, settings: Settings, producer: str):
    project = _project(tmp_path, producer)
    products = project / "domains" / "sales" / "products.py"
    if producer == "python":
        products.write_text(products.read_text() + "\n\n" + _block("python"))
    else:
        (project / "dbt_project" / "models" / "sales" / "big_orders.sql").write_text(_block("sql"))
    spec = importlib.util.spec_from_file_location(f"readme_sales_{producer}", products)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    defs = domain_definitions("sales", products=module, project_dir=project)
    _publish_orders(settings)
    key = dg.AssetKey(["sales", "big_orders"])
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={key})
    assert job.execute_in_process(instance=dg.DagsterInstance.ephemeral()).success

    published = read("sales.big_orders", settings=settings)
    assert published.columns == ["order_key", "total_price"]
    assert published.select("order_key").sort("order_key").equals(_expected(settings))
    assert published["total_price"].cast(pl.Float64).min() > 400_000
