"""The whole sample mesh, materialized through Dagster into a temporary lakehouse."""

import json
from uuid import uuid4

import dagster as dg
import duckdb
import polars as pl
import pytest
import sqlalchemy as sa
from deltalake import DeltaTable
from lakemesh import Catalog, load_contract, load_contracts, publish, read
from lakemesh.catalog import column_sources, impact, product_lineage
from lakemesh.catalog import model as m
from lakemesh.ml.registry import ModelRegistry
from lakemesh.orchestration.mesh import load_workspace, materialize_mesh
from lakemesh.settings import Settings
from lakemesh.storage.landing import read_landing
from polars.testing import assert_frame_equal

from domains.logistics.models import late_delivery

from ..conftest import PROJECT_DIR

pytestmark = pytest.mark.slow

RAW_COUNTS = {
    "customers.customer": "customer",
    "customers.nation": "nation",
    "sales.orders": "orders",
    "sales.line_items": "lineitem",
    "supply.parts": "part",
    "supply.suppliers": "supplier",
    "supply.part_suppliers": "partsupp",
}

Q1 = """
select l_returnflag as return_flag, l_linestatus as line_status,
       sum(l_quantity) as sum_qty, sum(l_extendedprice) as sum_base_price,
       sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
       sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
       avg(l_quantity) as avg_qty, avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc,
       count(*) as count_order
from read_parquet('{landing}/lineitem/*.parquet')
where l_shipdate <= date '1998-12-01' - interval 90 day
group by l_returnflag, l_linestatus order by l_returnflag, l_linestatus
"""

Q5_ALL = """
select n_name as nation_name, year(o_orderdate) as order_year,
       sum(l_extendedprice * (1 - l_discount)) as revenue
from read_parquet('{landing}/customer.parquet') c
join read_parquet('{landing}/orders/*.parquet') o on c_custkey = o_custkey
join read_parquet('{landing}/lineitem/*.parquet') l on l_orderkey = o_orderkey
join read_parquet('{landing}/supplier.parquet') s on l_suppkey = s_suppkey and c_nationkey = s_nationkey
join read_parquet('{landing}/nation.parquet') n on s_nationkey = n_nationkey
group by n_name, year(o_orderdate)
"""


DELIVERY = """
select l_suppkey as supplier_key, date_trunc('month', l_shipdate)::date as ship_month,
       count(*) as shipped_lines, count(*) filter (where l_receiptdate > l_commitdate) as late_lines,
       late_lines / shipped_lines as late_ratio,
       avg(l_receiptdate - l_commitdate) filter (where l_receiptdate > l_commitdate) as avg_days_late
from '{landing}/lineitem/*.parquet' join '{landing}/supplier.parquet' on l_suppkey = s_suppkey
group by all
"""


def _run(instance: dg.DagsterInstance, settings: Settings) -> set[str]:
    """What one `lakemesh run` built, by name: it succeeded and announced each build as it went."""
    events: list[dg.EventLogEntry] = []
    log_file = settings.duckdb_dir.parent / "run.log"
    result = materialize_mesh(load_workspace(PROJECT_DIR), instance=instance, log_file=log_file, on_event=events.append)
    failures = [e.dagster_event.step_failure_data.error.to_string() for e in events if e.dagster_event.is_step_failure]
    assert result.success, "\n".join(failures)
    announced = {e.dagster_event.asset_key for e in events if e.dagster_event.is_step_materialization}
    assert announced == {e.asset_key for e in result.get_asset_materialization_events()}
    return {".".join(key.path) for key in announced}


def test_sample_mesh_end_to_end(settings: Settings):
    with dg.DagsterInstance.ephemeral() as instance:
        assert len(_run(instance, settings)) == 14  # 13 products and 1 model

        landing = settings.landing
        for product, table in RAW_COUNTS.items():
            raw = read_landing(landing, table).height
            assert read(product, settings=settings).height == raw, product

        expected_q1 = duckdb.sql(Q1.format(landing=landing)).pl()
        published_q1 = read("sales.pricing_summary", settings=settings).sort("return_flag", "line_status")
        assert published_q1.select("return_flag", "line_status", "count_order").equals(
            expected_q1.select("return_flag", "line_status", "count_order")
        )
        for column in ("sum_qty", "sum_base_price", "sum_disc_price", "sum_charge", "avg_qty", "avg_price", "avg_disc"):
            assert published_q1[column].cast(pl.Float64).to_list() == pytest.approx(
                expected_q1[column].cast(pl.Float64).to_list(), rel=1e-9
            ), column

        expected_q5 = duckdb.sql(Q5_ALL.format(landing=landing)).pl().sort("nation_name", "order_year")
        revenue = read("sales.revenue_by_nation", settings=settings).sort("nation_name", "order_year")
        assert revenue["nation_name"].to_list() == expected_q5["nation_name"].to_list()
        assert revenue["revenue"].cast(pl.Float64).to_list() == pytest.approx(
            expected_q5["revenue"].cast(pl.Float64).to_list(), rel=1e-9
        )

        expected_delivery = duckdb.sql(DELIVERY.format(landing=landing)).pl().sort("supplier_key", "ship_month")
        delivery = read("supply.supplier_delivery_performance", settings=settings).sort("supplier_key", "ship_month")
        assert_frame_equal(delivery, expected_delivery.select(delivery.columns), check_exact=False, rel_tol=1e-12)

        # the model: trained on the features pinned for the run, past its gate, registered; its predictions are
        # every line of the held-out period, scored by the version its alias names
        [model] = ModelRegistry.for_settings(settings).versions("logistics.late_delivery")
        assert model.aliases == ("champion",) and model.metrics["validation_auc"] >= late_delivery.gate["auc"]
        assert (
            model.tags["lakemesh.input.logistics.shipment_features"] == "0" and model.tags["lakemesh.device"] == "cpu"
        )
        features = pl.read_delta(settings.table_uri("logistics.shipment_features"))
        assert features.height == read("sales.line_items", settings=settings).height
        held_out = features.filter(pl.col("ship_date") >= late_delivery.split.validate_from)
        predictions = read("logistics.late_delivery_predictions", settings=settings)
        assert sorted(predictions.select("order_key", "line_number").rows()) == sorted(
            held_out.select("order_key", "line_number").rows()
        )
        assert predictions["model_version"].unique().to_list() == [1]

        # commit metadata names the exact input versions read
        commit = DeltaTable(settings.table_uri("sales.revenue_by_nation")).history(1)[0]
        assert json.loads(commit["lakemesh.inputs"]) == {
            "customers.customer": 0,
            "customers.nation": 0,
            "sales.line_items": 0,
            "sales.orders": 0,
            "supply.suppliers": 0,
        }

        # running again builds only what is older than what it reads: suppliers got one more version, from
        # outside its producer, so its producer builds it again, and then what reads it, at the new versions
        line_items = read("sales.line_items", settings=settings)
        suppliers = load_contract(PROJECT_DIR / "contracts" / "supply" / "suppliers.yaml")
        publish(read("supply.suppliers", settings=settings), contract=suppliers, settings=settings, run_id=str(uuid4()))
        assert _run(instance, settings) == {
            "supply.suppliers",
            "sales.revenue_by_nation",
            "supply.supplier_delivery_performance",
            "logistics.shipment_features",
            "logistics.late_delivery_predictions",
        }  # not the model: new data is scored, not trained on
        assert DeltaTable(settings.table_uri("sales.line_items")).version() == 0
        assert DeltaTable(settings.table_uri("sales.orders")).version() == 0
        assert DeltaTable(settings.table_uri("supply.suppliers")).version() == 2
        commit = DeltaTable(settings.table_uri("sales.revenue_by_nation")).history(1)[0]
        assert json.loads(commit["lakemesh.inputs"]) == {
            "customers.customer": 0,
            "customers.nation": 0,
            "sales.line_items": 0,
            "sales.orders": 0,
            "supply.suppliers": 2,
        }
        assert read("sales.line_items", settings=settings).height == line_items.height
        assert _run(instance, settings) == set()  # and a third run builds nothing

    catalog = Catalog(settings.catalog_url)
    tree = product_lineage(
        catalog, "sales.revenue_by_nation", direction="upstream", depth=2, namespace=settings.namespace
    )
    assert {child.name for child in tree.children} == {
        "customers.customer",
        "customers.nation",
        "sales.line_items",
        "sales.orders",
        "supply.suppliers",
    }
    nation = next(c for c in tree.children if c.name == "customers.nation")
    assert {leaf.name.rsplit("/", 1)[-1] for leaf in nation.children} == {"nation.parquet", "region.parquet"}
    downstream = product_lineage(
        catalog, "supply.suppliers", direction="downstream", depth=1, namespace=settings.namespace
    )
    # the delivery performance is reached through two jobs: the platform's publish and Spark's own write
    assert sorted(f"{c.name} via {c.via_job}" for c in downstream.children) == [
        "logistics.shipment_features via logistics.shipment_features",
        "sales.revenue_by_nation via sales.revenue_by_nation",
        "supply.supplier_delivery_performance via lakemesh.execute_save_into_data_source_command."
        "supply_supplier_delivery_performance",
        "supply.supplier_delivery_performance via supply.supplier_delivery_performance",
    ]
    entry = catalog.product("sales.pricing_summary", namespace=settings.namespace)
    assert entry.current_version == "0" and entry.owner == "sales-analytics"  # up to date: not built again
    assert entry.checks and all(entry.checks.values())

    # column lineage: dbt's compiled SQL through sqlglot, and the Python producers' declarations
    revenue = column_sources(catalog, "sales.revenue_by_nation", "revenue", namespace=settings.namespace)
    assert {(s.dataset, s.field, s.transformation) for s in revenue.inputs} == {
        ("sales.line_items", "extended_price", "AGGREGATION"),
        ("sales.line_items", "discount", "AGGREGATION"),
    }
    landing = {(s.dataset.rsplit("/", 1)[-1], s.field) for i in revenue.inputs for s in i.inputs}
    assert landing == {("lineitem", "l_extendedprice"), ("lineitem", "l_discount")}  # its folder of days
    region = column_sources(catalog, "sales.revenue_by_nation", "region_name", namespace=settings.namespace)
    assert [(s.dataset, s.field, s.transformation) for s in region.inputs] == [
        ("customers.nation", "region_name", "IDENTITY")
    ]
    assert [(s.dataset.rsplit("/", 1)[-1], s.field) for s in region.inputs[0].inputs] == [("region.parquet", "r_name")]
    affected = impact(catalog, "customers.nation", column="region_name", namespace=settings.namespace)
    assert [(a.name, a.owner, a.columns, a.indirect) for a in affected] == [
        ("sales.revenue_by_nation", "sales-analytics", ("*", "region_name"), False)  # projected, and grouped by
    ]
    # columns a product uses without projecting them: a join key, a filter
    joined = impact(catalog, "customers.customer", column="nation_key", namespace=settings.namespace)
    assert [(a.name, a.columns, a.indirect) for a in joined] == [
        ("logistics.shipment_features", ("*",), True),
        ("sales.revenue_by_nation", ("*",), True),
        ("logistics.late_delivery", (), False),  # the model reads the features as a whole: no column lineage
        ("logistics.late_delivery_predictions", (), False),
    ]
    filtered = impact(catalog, "sales.line_items", column="ship_date", namespace=settings.namespace)
    assert [(a.name, a.columns, a.indirect) for a in filtered] == [
        ("sales.pricing_summary", ("*",), True),  # filtered on it
        ("sales.shipments", ("ship_date",), False),  # projects it, for other domains
        ("logistics.shipment_features", ("days_order_to_ship", "ship_date", "slack_days"), False),
        ("supply.supplier_delivery_performance", ("*", "ship_month"), False),  # through shipments: grouped by month
        ("logistics.late_delivery", (), False),
        ("logistics.late_delivery_predictions", (), False),
    ]

    # Spark's own lineage (its OpenLineage listener) and the platform's meet on one node per product
    with catalog.engine.connect() as db:
        datasets = db.execute(sa.select(m.datasets.c.namespace, m.datasets.c.name, m.datasets.c.producer)).all()
        spark_jobs = db.execute(
            sa.select(m.jobs.c.name)
            .join(m.job_io, m.job_io.c.job_id == m.jobs.c.id)
            .join(m.datasets, m.datasets.c.id == m.job_io.c.dataset_id)
            .where(m.datasets.c.name == "supply.supplier_delivery_performance", m.job_io.c.direction == "output")
        ).scalars()
        spark_jobs = sorted(set(spark_jobs) - {"supply.supplier_delivery_performance"})
    assert not [d for d in datasets if d.namespace == "file" and d.name.startswith(settings.lakehouse)]
    products = sorted(d.name for d in datasets if d.namespace == settings.namespace and "._" not in d.name)
    assert products == sorted(load_contracts(PROJECT_DIR / "contracts"))
    assert spark_jobs, "no job of Spark's listener writes supply.supplier_delivery_performance"
    key = column_sources(catalog, "supply.supplier_delivery_performance", "supplier_key", namespace=settings.namespace)
    assert {(s.dataset, s.field) for s in key.inputs} >= {
        ("supply.suppliers", "supplier_key"),  # declared by the domain
        ("sales.shipments", "supplier_key"),  # seen by Spark's listener in the plan (the join's other side)
    }
