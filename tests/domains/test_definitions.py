"""Each code location loads; broken domains refuse to load with a message naming both ends."""

from pathlib import Path

import dagster as dg
import pytest
from lakemesh import AccessRefused, ContractInvalid, DefinitionsInvalid, LandingDataBad, domain_definitions
from lakemesh.orchestration.mesh import load_workspace
from lakemesh.settings import Settings
from lakemesh.storage.landing import read_landing

from domains.customers import products as customers_products
from domains.sales import products as sales_products
from domains.supply import products as supply_products

from ..conftest import PROJECT_DIR, copy_project

EXPECTED = {
    "customers": {"customers/customer", "customers/nation"},
    "sales": {
        "sales/orders",
        "sales/line_items",
        "sales/shipments",
        "sales/pricing_summary",
        "sales/revenue_by_nation",
    },
    "supply": {"supply/parts", "supply/suppliers", "supply/part_suppliers", "supply/supplier_delivery_performance"},
}


@pytest.fixture(scope="module")
def locations() -> dict[str, dg.Definitions]:
    return load_workspace(PROJECT_DIR)


@pytest.mark.parametrize("location", sorted(EXPECTED))
def test_code_location_loads_with_contract_metadata(locations, location: str):
    graph = locations[location].resolve_asset_graph()
    own = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert own == EXPECTED[location]
    for key in own:
        node = graph.get(dg.AssetKey.from_user_string(key))
        assert node.owners and node.owners[0].startswith("team:")
        assert node.group_name == location
        assert "delta" in node.kinds and ({"dbt", "python"} & set(node.kinds))
        assert ("spark" in node.kinds) == (key == "supply/supplier_delivery_performance")
        assert node.description
        assert node.metadata["dagster/column_schema"].columns
        checks = {c.name for c in graph.asset_check_keys if c.asset_key == node.key}
        if node.partitions_def is None:
            assert checks >= {"schema", "primary_key__unique"}
        else:  # one check per partition, for every guarantee
            assert checks == {"contract"}
            assert "schema" in graph.get_check_spec(dg.AssetCheckKey(node.key, "contract")).description


def test_the_model_is_declared_into_features_model_predictions_assets(locations):
    graph = locations["logistics"].resolve_asset_graph()
    features, model, predictions = (
        graph.get(dg.AssetKey(["logistics", name]))
        for name in ("shipment_features", "late_delivery", "late_delivery_predictions")
    )
    assert {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_materializable} == {
        "logistics/shipment_features",
        "logistics/late_delivery",
        "logistics/late_delivery_predictions",
    }
    assert model.parent_keys == {features.key} and predictions.parent_keys == {features.key, model.key}
    assert set(model.kinds) == {"xgboost", "mlflow"} and {"delta", "xgboost", "mlflow"} <= set(predictions.kinds)
    assert model.owners == predictions.owners == ["team:logistics-analytics"]
    assert {model.group_name, predictions.group_name} == {"logistics"}
    checks = {(c.asset_key.path[-1], c.name) for c in graph.asset_check_keys}
    assert {("late_delivery", "evaluation_gate"), ("late_delivery_predictions", "feature_drift")} <= checks
    assert ("shipment_features", "contract") in checks  # partitioned: one check per partition, every guarantee
    assert "auc >= 0.8" in model.description


def test_cross_domain_edges_are_in_the_graph(locations):
    merged = dg.Definitions.merge(*locations.values()).resolve_asset_graph()
    parents = {k.to_user_string() for k in merged.get(dg.AssetKey(["sales", "revenue_by_nation"])).parent_keys}
    assert parents == {
        "customers/customer",
        "customers/nation",
        "supply/suppliers",
        "sales/orders",
        "sales/line_items",
    }


def test_reading_another_domains_non_public_product_is_refused(tmp_path: Path, settings: Settings):
    project = copy_project(tmp_path)
    model = project / "dbt_project" / "models" / "sales" / "revenue_by_nation.sql"
    model.write_text(model.read_text() + "\n-- {{ source('supply', 'part_suppliers') }}\n")
    with pytest.raises(AccessRefused) as refused:
        domain_definitions("sales", products=sales_products, project_dir=project)
    message = str(refused.value)
    assert "sales.revenue_by_nation reads supply.part_suppliers" in message
    assert "internal to the supply domain" in message


def test_contract_without_producer_is_refused(tmp_path: Path, settings: Settings):
    project = copy_project(tmp_path)
    (project / "dbt_project" / "models" / "customers" / "nation.sql").unlink()
    with pytest.raises(
        DefinitionsInvalid, match=r"customers.nation: contract .* says producer 'dbt' but it is produced by nothing"
    ):
        domain_definitions("customers", products=customers_products, project_dir=project)


def test_invalid_contract_stops_the_load_naming_file_and_field(tmp_path: Path, settings: Settings):
    project = copy_project(tmp_path)
    path = project / "contracts" / "supply" / "parts.yaml"
    path.write_text(path.read_text().replace("kind: DataContract", "kind: Contract"))
    with pytest.raises(ValueError, match=r"parts.yaml: field 'kind'"):
        domain_definitions("supply", products=supply_products, project_dir=project)


def test_a_broken_contract_stops_only_the_locations_that_read_it(tmp_path: Path, settings: Settings):
    project = copy_project(tmp_path)
    orders = project / "contracts" / "sales" / "orders.yaml"
    orders.write_text(orders.read_text().replace("kind: DataContract", "kind: Contract"))
    suppliers = project / "contracts" / "supply" / "suppliers.yaml"
    suppliers.write_text(suppliers.read_text().replace("kind: DataContract", "kind: Contract"))

    assert domain_definitions("customers", products=customers_products, project_dir=project).resolve_asset_graph()
    with pytest.raises(ContractInvalid) as broken_supply:
        domain_definitions("supply", products=supply_products, project_dir=project)
    with pytest.raises(ContractInvalid) as broken_sales:
        domain_definitions("sales", products=sales_products, project_dir=project)

    assert (
        str(broken_supply.value)
        == f"{suppliers}: field 'kind': not valid ODCS: 'Contract' is not one of ['DataContract']"
    )
    assert "\n" not in str(broken_sales.value) and "orders.yaml: field 'kind'" in str(broken_sales.value)


def test_another_domain_is_seen_through_the_contract_it_published(tmp_path: Path, settings: Settings):
    """customers.nation published as internal: sales may not read it, whatever the file says today."""
    project = copy_project(tmp_path)
    nation = project / "contracts" / "customers" / "nation.yaml"
    public = nation.read_text()
    nation.write_text(public.replace("value: public", "value: internal"))
    customers = domain_definitions("customers", products=customers_products, project_dir=project)
    job = customers.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=[dg.AssetKey(["customers", "nation"])]
    ).success
    nation.write_text(public)  # made public again, but not published yet

    with pytest.raises(AccessRefused, match=r"sales.revenue_by_nation reads customers.nation, which is internal"):
        domain_definitions("sales", products=sales_products, project_dir=project)


def test_missing_landing_file_names_path_and_reason(settings: Settings):
    (settings.landing / "customer.parquet").unlink()
    with pytest.raises(LandingDataBad, match=r"customer.parquet: file not found"):
        read_landing(settings.landing, "customer")


def test_corrupt_landing_file_names_path_and_reason(settings: Settings):
    path = settings.landing / "orders" / "1995-06-30.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(LandingDataBad, match=r"orders/1995-06-30.parquet: not a readable Parquet file"):
        read_landing(settings.landing, "orders")


def test_each_location_has_a_maintenance_job_that_bounds_its_products(locations, settings: Settings):
    """The Dagster job checkpoints, compacts and vacuums the domain's published products; the rest are skipped."""
    import uuid

    import polars as pl
    from lakemesh import load_contract, publish

    contract = load_contract(PROJECT_DIR / "contracts" / "supply" / "parts.yaml")
    from domains.supply.products import parts

    frame = parts.fn(read_landing(settings.landing, "part").lazy()).collect()
    for _ in range(3):
        publish(frame, contract=contract, settings=settings, run_id=str(uuid.uuid4()))
    job = locations["supply"].resolve_job_def("supply__maintenance")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    uri = settings.table_uri("supply.parts")
    assert (Path(uri) / "_delta_log" / "_last_checkpoint").is_file()  # the job ran on the run's lakehouse
    for version in range(3):  # all inside the default retention: still readable
        assert pl.read_delta(uri, version=version).height == frame.height
    assert not Path(settings.table_uri("supply.suppliers")).exists()  # never published: skipped


def test_checks_are_blocking_state_their_bound_and_a_composite_key_is_one_constraint(locations):
    graph = locations["sales"].resolve_asset_graph()
    line_items = graph.get(dg.AssetKey(["sales", "line_items"]))
    schema = line_items.metadata["dagster/column_schema"]
    assert schema.constraints.other == ["primary key (order_key, line_number)"]
    assert {c.name: c.constraints.unique for c in schema.columns}["order_key"] is False
    specs = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys if key.asset_key == line_items.key}
    assert all(spec.blocking for spec in specs.values())
    assert "quantity__range" in specs["contract"].description  # partitioned: one check of every guarantee
    pricing = graph.get(dg.AssetKey(["sales", "pricing_summary"])).key
    specs = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys if key.asset_key == pricing}
    assert all(spec.blocking for spec in specs.values()) and len(specs) > 1
    assert specs["count_order__range"].description == "count_order >= 1"
    orders = graph.get(dg.AssetKey(["sales", "orders"])).metadata["dagster/column_schema"]
    assert {c.name: c.constraints.unique for c in orders.columns}["order_key"] is True
