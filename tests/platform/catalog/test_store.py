"""The catalog store on SQLite and PostgreSQL: migrations, ingestion, lineage graphs, column lineage, impact."""

import itertools
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from lakemesh.catalog import (
    Catalog,
    InvalidNodeId,
    NotFound,
    column_lineage_graph,
    column_sources,
    impact,
    lineage_graph,
    product_lineage,
)
from lakemesh.catalog.database import _MIGRATIONS

from .events import NS, PRODUCER, chain, column_lineage, dataset, facet, run_event


def _nodes(graph: dict) -> set[str]:
    return {node["id"] for node in graph["graph"]}


def test_a_new_database_is_migrated_to_head_and_migrations_run_both_ways(catalog_url: str):
    catalog = Catalog(catalog_url)
    with catalog.engine.connect() as db:
        assert db.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0004"
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with catalog.engine.begin() as db:
        config.attributes["connection"] = db
        command.downgrade(config, "base")
        assert "datasets" not in sa.inspect(db).get_table_names()
        command.upgrade(config, "head")
        assert {"datasets", "jobs", "job_io", "runs", "events", "column_lineage"} <= set(
            sa.inspect(db).get_table_names()
        )


def test_upgrading_a_catalog_reads_back_who_wrote_each_dataset(catalog_url: str):
    """Datasets written before revision 0002 get their producer from the stored events: products stay products."""
    catalog = Catalog(catalog_url)
    catalog.ingest(run_event("sales.orders", outputs=[dataset("sales.orders", contract=facet(**CONTRACT))]))
    catalog.ingest(run_event("x", producer="https://other.example", outputs=[dataset("elsewhere")]))
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with catalog.engine.begin() as db:
        config.attributes["connection"] = db
        command.downgrade(config, "0001")
        assert "producer" not in {c["name"] for c in sa.inspect(db).get_columns("datasets")}
        command.upgrade(config, "head")
    assert catalog.product("sales.orders").namespace == NS
    assert catalog.namesakes("elsewhere")[0].producer == "https://other.example"


CONTRACT = {"contractId": "urn:x", "contractVersion": "1.0.0", "status": "active", "access": "public", "location": "/x"}


def test_runs_datasets_versions_and_unknown_facets(catalog_url: str):
    catalog = Catalog(catalog_url)
    run_id = str(uuid.uuid4())
    custom = facet(anything={"nested": [1, 2]})
    complete = run_event(
        "load",
        run_id=run_id,
        outputs=[dataset("orders", columns=("id", "amount"), version=facet(datasetVersion="7"), acme_custom=custom)],
        event_time="2026-11-20T10:05:00Z",
        run_facets={"acme_run": facet(ticket="OPS-1")},
    )
    start = run_event("load", run_id=run_id, event_type="START", outputs=[dataset("orders")])
    catalog.ingest(complete)  # out of order: a late START must not reopen the finished run
    catalog.ingest(start)

    (run,), _ = catalog.job_runs("etl", "load")
    assert run["state"] == "COMPLETED"
    assert (run["startedAt"], run["endedAt"], run["durationMs"]) == (
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:05:00Z",
        300000,
    )
    assert run["facets"]["acme_run"]["ticket"] == "OPS-1"
    found = catalog.dataset(NS, "orders")
    assert found["currentVersion"] == "7"
    assert [f["name"] for f in found["fields"]] == ["id", "amount"]
    assert found["facets"]["acme_custom"] == custom
    versions, total = catalog.dataset_versions(NS, "orders")
    assert total == 1 and versions[0]["createdByRun"]["id"] == run_id
    events, total = catalog.events()
    assert total == 2 and events[0]["outputs"][0]["facets"]["acme_custom"] == custom  # stored verbatim


def test_marquez_lineage_graph_walks_jobs_both_ways_up_to_depth(catalog_url: str):
    catalog = Catalog(catalog_url)
    for event in chain(4):  # ds0 -> job1 -> ds1 -> job2 -> ds2 -> job3 -> ds3 -> job4 -> ds4
        catalog.ingest(event)
    depth0 = lineage_graph(catalog, f"dataset:{NS}:ds2", depth=0)
    assert _nodes(depth0) == {f"dataset:{NS}:ds{i}" for i in (1, 2, 3)} | {"job:etl:job2", "job:etl:job3"}
    depth1 = lineage_graph(catalog, f"dataset:{NS}:ds2", depth=1)
    assert _nodes(depth1) == {f"dataset:{NS}:ds{i}" for i in range(5)} | {f"job:etl:job{i}" for i in range(1, 5)}
    node = next(n for n in depth1["graph"] if n["id"] == f"dataset:{NS}:ds2")
    assert node["inEdges"] == [{"origin": "job:etl:job2", "destination": f"dataset:{NS}:ds2"}]
    assert node["outEdges"] == [{"origin": f"dataset:{NS}:ds2", "destination": "job:etl:job3"}]
    job = next(n for n in depth1["graph"] if n["id"] == "job:etl:job3")
    assert job["data"]["inputs"] == [{"namespace": NS, "name": "ds2"}]
    assert _nodes(lineage_graph(catalog, "job:etl:job1", depth=0)) == {
        "job:etl:job1",
        f"dataset:{NS}:ds0",
        f"dataset:{NS}:ds1",
    }


@pytest.mark.parametrize(
    ("node_id", "error"),
    [
        ("ds2", InvalidNodeId),
        ("table:warehouse://db:ds2", InvalidNodeId),
        ("dataset:nocolon", InvalidNodeId),
        (f"dataset:{NS}:missing", NotFound),
        (f"datasetField:{NS}:ds2:missing_column", NotFound),
    ],
)
def test_bad_node_ids_are_refused(catalog_url: str, node_id: str, error: type):
    catalog = Catalog(catalog_url)
    for event in chain(2):
        catalog.ingest(event)
    with pytest.raises(error, match="nodeId"):
        lineage_graph(catalog, node_id)


def test_column_lineage_graph_and_sources(catalog_url: str):
    catalog = Catalog(catalog_url)
    for event in chain(3):
        catalog.ingest(event)
    upstream = column_lineage_graph(catalog, f"datasetField:{NS}:ds3:c", depth=10)
    assert _nodes(upstream) == {f"datasetField:{NS}:ds{i}:c" for i in range(4)}
    top = next(n for n in upstream["graph"] if n["id"] == f"datasetField:{NS}:ds3:c")
    assert [(f["dataset"], f["field"]) for f in top["data"]["inputFields"]] == [("ds2", "c")]
    limited = column_lineage_graph(catalog, f"dataset:{NS}:ds3", depth=1)
    assert _nodes(limited) == {f"datasetField:{NS}:ds3:c", f"datasetField:{NS}:ds2:c"}
    both = column_lineage_graph(catalog, f"datasetField:{NS}:ds1:c", depth=5, with_downstream=True)
    assert _nodes(both) == {f"datasetField:{NS}:ds{i}:c" for i in range(4)}
    source = column_sources(catalog, "ds3", "c", namespace=NS)
    path = []
    while source.inputs:
        (source,) = source.inputs
        path.append(source.dataset)
    assert path == ["ds2", "ds1", "ds0"]


def test_impact_of_a_product_and_of_one_column(catalog_url: str):
    catalog = Catalog(catalog_url)
    owned = {"ownership": facet(owners=[{"name": "team:finance", "type": "OWNER"}])}
    catalog.ingest(run_event("make_a", outputs=[dataset("a", columns=("x", "y"))]))
    catalog.ingest(
        run_event(
            "make_b",
            inputs=[dataset("a")],
            outputs=[
                dataset(
                    "b",
                    columns=("bx", "by"),
                    columnLineage=column_lineage({"bx": [("a", "x")], "by": [("a", "y")]}),
                    **owned,
                )
            ],
        )
    )
    catalog.ingest(
        run_event(
            "make_c",
            inputs=[dataset("b")],
            outputs=[dataset("c", columns=("cx",), columnLineage=column_lineage({"cx": [("b", "bx")]}))],
        )
    )
    catalog.ingest(
        run_event("make_d", inputs=[dataset("a")], outputs=[dataset("d", columns=("z",))])
    )  # no column lineage

    everything = impact(catalog, "a", namespace=NS)
    assert [(e.name, e.hops) for e in everything] == [("b", 1), ("d", 1), ("c", 2)]
    assert everything[0].owner == "finance"
    on_x = impact(catalog, "a", column="x", namespace=NS)
    assert [(e.name, e.columns) for e in on_x] == [("b", ("bx",)), ("d", ()), ("c", ("cx",))]
    on_y = impact(catalog, "a", column="y", namespace=NS)
    assert [(e.name, e.columns) for e in on_y] == [("b", ("by",)), ("d", ())]  # c reads bx only
    with pytest.raises(NotFound, match="no column 'nope'"):
        impact(catalog, "a", column="nope", namespace=NS)
    tree = product_lineage(catalog, "c", direction="upstream", depth=5, namespace=NS)
    assert [tree.children[0].name, tree.children[0].children[0].name] == ["b", "a"]


def test_a_migration_that_fails_halfway_leaves_no_table_behind_and_the_next_open_finishes(tmp_path):
    """SQLite DDL runs in the migration's transaction: a half-built schema would make every later open fail."""
    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY)")  # the first revision fails on its fourth table
    with pytest.raises(sa.exc.OperationalError, match="table jobs already exists"):
        Catalog(path)
    with sqlite3.connect(path) as db:
        assert [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["jobs"]
        db.execute("DROP TABLE jobs")
    catalog = Catalog(path)
    catalog.ingest_all(chain(1))
    assert [d["name"] for d in catalog.datasets(NS)[0]] == ["ds0", "ds1"]


def _lattice(layers: int, width: int) -> list[dict]:
    """Each dataset of a layer reads every dataset of the layer before: width**depth paths, width*depth nodes."""
    events = []
    for i in range(1, layers):
        for k in range(width):
            sources = [(f"L{i - 1}_{j}", "c") for j in range(width)]
            events.append(
                run_event(
                    f"make_L{i}_{k}",
                    inputs=[dataset(name) for name, _ in sources],
                    outputs=[dataset(f"L{i}_{k}", columns=("c",), columnLineage=column_lineage({"c": sources}))],
                )
            )
    return events


def _count(node, children: str) -> tuple[int, int]:
    """(every node of the tree, the nodes shown in full)."""
    total, full = 1, int(not node.repeated)
    for child in getattr(node, children):
        more, more_full = _count(child, children)
        total, full = total + more, full + more_full
    return total, full


def test_lineage_trees_show_each_dataset_once_so_they_grow_with_the_graph_not_its_paths(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    for event in _lattice(16, 3):
        catalog.ingest(event)

    tree = product_lineage(catalog, "L15_0", direction="upstream", depth=10, namespace=NS)
    total, full = _count(tree, "children")
    assert full == 1 + 3 * 10  # the root and the 30 datasets within 10 hops, each in full once
    assert total == 1 + 3 * (full - 3)  # each shown in full lists its 3 inputs, but the 3 at the depth limit
    assert [c.name for c in tree.children] == ["L14_0", "L14_1", "L14_2"]
    assert not any(c.repeated for c in tree.children)  # the nearest occurrence is the one shown in full

    source = column_sources(catalog, "L15_0", "c", namespace=NS)
    total, full = _count(source, "inputs")
    assert full == 1 + 3 * 15  # every column back to layer 0 in full once, instead of 3**15 paths
    assert total <= 3 * full


def test_a_tree_keeps_to_its_depth_and_says_shown_above_only_below_the_full_occurrence(tmp_path):
    """The mart reads every stage of a chain: the first stage printed reaches deeper stages before the mart's
    own branches do. Each dataset is in full once, where first printed, and never beyond the depth asked."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    stages = [f"S{i:03}" for i in range(40)]
    catalog.ingest(run_event("make_mart", inputs=[dataset(s) for s in stages], outputs=[dataset("mart")]))
    for stage, source in itertools.pairwise(stages):
        catalog.ingest(run_event(f"make_{stage}", inputs=[dataset(source)], outputs=[dataset(stage)]))

    tree = product_lineage(catalog, "mart", direction="upstream", depth=3, namespace=NS)
    shown, expanded = set(), set()

    def walk(node, level: int) -> None:
        assert level <= 3, f"{node.name} printed at level {level}, beyond the depth"
        if node.repeated:
            assert node.name in shown, f"{node.name} says shown above, but it is shown below"
        shown.add(node.name)
        if node.children:
            assert node.name not in expanded, f"{node.name} shown in full twice"
            expanded.add(node.name)
        for child in node.children:
            walk(child, level + 1)

    walk(tree, 0)
    assert [c.name for c in tree.children] == stages and shown == {"mart", *stages}


def test_impact_reaches_readers_through_columns_they_join_or_filter_on(catalog_url: str):
    catalog = Catalog(catalog_url)
    catalog.ingest(run_event("make_a", outputs=[dataset("a", columns=("k", "v"))]))
    lineage = column_lineage({"total": [("a", "v")]})
    lineage["dataset"] = [
        {"namespace": NS, "name": "a", "field": "k", "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}]}
    ]
    catalog.ingest(
        run_event("make_b", inputs=[dataset("a")], outputs=[dataset("b", columns=("total",), columnLineage=lineage)])
    )
    catalog.ingest(
        run_event(
            "make_c",
            inputs=[dataset("b")],
            outputs=[dataset("c", columns=("t",), columnLineage=column_lineage({"t": [("b", "total")]}))],
        )
    )

    on_k = impact(catalog, "a", column="k", namespace=NS)
    assert [(e.name, e.columns, e.indirect) for e in on_k] == [("b", ("*",), True), ("c", ("t",), True)]
    on_v = impact(catalog, "a", column="v", namespace=NS)
    assert [(e.name, e.columns, e.indirect) for e in on_v] == [("b", ("total",), False), ("c", ("t",), False)]
    assert {n["id"] for n in column_lineage_graph(catalog, f"dataset:{NS}:b", depth=3)["graph"]} == {
        f"datasetField:{NS}:b:total",
        f"datasetField:{NS}:a:v",
    }  # the Marquez column graph stays per column


def test_a_lineage_graph_sees_edges_written_after_it_was_last_asked(catalog_url: str):
    """The graph held in memory is read again when any writer changes a job's inputs or outputs."""
    writer, reader = Catalog(catalog_url), Catalog(catalog_url)
    for event in chain(2):
        writer.ingest(event)
    assert f"dataset:{NS}:ds3" not in _nodes(lineage_graph(reader, f"dataset:{NS}:ds1", depth=5))
    writer.ingest(chain(3)[-1])  # job3: ds2 -> ds3
    assert f"dataset:{NS}:ds3" in _nodes(lineage_graph(reader, f"dataset:{NS}:ds1", depth=5))
    rerun = chain(3)[-1] | {"run": {"runId": str(uuid.uuid4())}}  # the same edges again: the graph stands
    with writer.engine.connect() as db:
        before = db.scalar(sa.text("SELECT version FROM graph_state"))
    writer.ingest(rerun)
    with writer.engine.connect() as db:
        assert db.scalar(sa.text("SELECT version FROM graph_state")) == before


def _complete(version: str, *, producer: str = PRODUCER, run_id: str | None = None, **facets) -> dict:
    output = dataset("sales.orders", version=facet(datasetVersion=version), **facets)
    return run_event("sales.orders", producer=producer, run_id=run_id, outputs=[output])


def test_another_producers_versions_never_hide_or_redescribe_a_product(catalog_url: str):
    catalog = Catalog(catalog_url)
    catalog.ingest(_complete("5", contract=facet(**CONTRACT)))
    catalog.ingest(_complete("999999", producer="https://other.example", documentation=facet(description="spoof")))
    catalog.ingest(_complete("²", producer="https://other.example"))  # a digit to str.isdigit, not to int()
    catalog.ingest(_complete("6"))
    product = catalog.product("sales.orders")
    assert (product.current_version, product.description) == ("6", None)


def test_a_completed_run_stays_completed_and_a_run_stays_with_its_job(catalog_url: str):
    from lakemesh.lineage.validation import InvalidEvent

    catalog = Catalog(catalog_url)
    run_id = str(uuid.uuid4())
    catalog.ingest(_complete("1", run_id=run_id))
    catalog.ingest(run_event("sales.orders", run_id=run_id, event_type="ABORT"))  # e.g. a late reconcile
    assert catalog.run(run_id)["state"] == "COMPLETED"
    before = catalog.events(limit=1)[1]
    with pytest.raises(InvalidEvent, match=f"run {run_id} belongs to another job"):
        catalog.ingest(run_event("marketing.campaigns", run_id=run_id, event_type="FAIL"))
    assert catalog.events(limit=1)[1] == before
    assert catalog.job("etl", "sales.orders")["latestRun"]["id"] == run_id


def test_a_late_run_leaves_the_jobs_latest_run_and_inputs_alone(catalog_url: str):
    catalog = Catalog(catalog_url)
    new = run_event(
        "load", inputs=[dataset("a"), dataset("b")], outputs=[dataset("out")], event_time="2026-11-20T12:00:00Z"
    )
    old = run_event("load", inputs=[dataset("a")], outputs=[dataset("out")], event_time="2026-11-20T09:00:00Z")
    catalog.ingest(new)
    catalog.ingest(old)  # a commit recorded late by reconcile, or a delayed event
    job = catalog.job("etl", "load")
    assert job["latestRun"]["id"] == new["run"]["runId"]
    assert [i["name"] for i in job["inputs"]] == ["a", "b"]
