"""Catalog benchmark: OpenLineage ingestion over HTTP and depth-5 lineage queries, SQLite vs PostgreSQL.

A synthetic mesh of 10,000 datasets and 50,000 job-dataset edges (100 domains of
100 datasets; each job writes one dataset from 4-5 of its domain's 6 most recent
datasets, 0.5% of inputs from another domain) is posted as 9,000 OpenLineage COMPLETE events to a real `lakemesh
catalog serve` process, then `GET /api/v1/lineage?depth=5` is timed from random
datasets. The same traversal done in memory over Python dicts, in the same run,
is the floor.

    uv run python benchmarks/catalog_lineage.py --postgres-url postgresql://user:pw@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import psycopg
import requests

DOMAINS, PER_DOMAIN, SOURCES_PER_DOMAIN = 100, 100, 10
WINDOW, CROSS_DOMAIN = 6, 0.005  # a job reads its domain's recent datasets, rarely another domain's
NS = "bench://warehouse"
PRODUCER = "https://example.com/bench"


def synthetic_mesh(seed: int = 7) -> list[tuple[str, list[str], str]]:
    """(job, inputs, output) for every produced dataset: 9,000 jobs, 50,000 edges."""
    rng = random.Random(seed)
    jobs = []
    produced = [(d, i) for d in range(DOMAINS) for i in range(SOURCES_PER_DOMAIN, PER_DOMAIN)]
    five = set(rng.sample(range(len(produced)), 5000))  # 4,000 jobs read 4 inputs, 5,000 read 5
    for n, (domain, index) in enumerate(produced):
        inputs: set[str] = set()
        if index < 2 * SOURCES_PER_DOMAIN:
            inputs.add(f"d{domain}.t{index - SOURCES_PER_DOMAIN}")  # every source is read by someone
        window = range(max(0, index - WINDOW) if index >= 2 * SOURCES_PER_DOMAIN else 0, index)
        while len(inputs) < (5 if n in five else 4):
            if rng.random() < CROSS_DOMAIN:
                inputs.add(f"d{rng.randrange(DOMAINS)}.t{rng.randrange(PER_DOMAIN)}")
            else:
                inputs.add(f"d{domain}.t{rng.choice(window)}")
        jobs.append((f"d{domain}.job{index}", sorted(inputs), f"d{domain}.t{index}"))
    return jobs


def event(job: str, inputs: list[str], output: str) -> dict:
    schema = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
        "fields": [{"name": f"c{i}", "type": "BIGINT"} for i in range(5)],
    }
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-20T10:00:00Z",
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "bench", "name": job},
        "inputs": [{"namespace": NS, "name": name} for name in inputs],
        "outputs": [{"namespace": NS, "name": output, "facets": {"schema": schema}}],
    }


def in_memory_lineage(jobs: list[tuple[str, list[str], str]]):
    """Marquez's traversal over dicts: jobs sharing a dataset are one hop apart."""
    datasets_of: dict[str, set[str]] = {job: {*inputs, output} for job, inputs, output in jobs}
    jobs_of: dict[str, set[str]] = defaultdict(set)
    for job, touched in datasets_of.items():
        for dataset in touched:
            jobs_of[dataset].add(job)

    def lineage(dataset: str, depth: int) -> int:
        seen = set(jobs_of[dataset])
        frontier = set(seen)
        for _ in range(depth):
            reached = {j for job in frontier for d in datasets_of[job] for j in jobs_of[d]} - seen
            if not reached:
                break
            seen |= reached
            frontier = reached
        return len(seen) + len({dataset} | {d for job in seen for d in datasets_of[job]})

    return lineage


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, bodies: list[bytes]) -> None:
    """POST events over one keep-alive connection (http.client: requests would cost more than the catalog)."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    for body in bodies:
        connection.request("POST", "/api/v1/lineage", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        if response.status != 201:
            raise RuntimeError(f"{response.status}: {answer[:200]!r}")
    connection.close()


def run_backend(label: str, url: str, jobs, starts: list[str], *, clients: int) -> dict:
    port = free_port()
    lakemesh = str(Path(sys.executable).with_name("lakemesh"))
    server = subprocess.Popen(
        [lakemesh, "catalog", "serve", "--url", url, "--port", str(port), "--insecure-no-auth"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "LAKEMESH_CATALOG_TOKEN": ""},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(f"{base}/api/v1/namespaces", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        events = [orjson.dumps(event(*job)) for job in jobs]
        half = len(events) // 2
        started = time.perf_counter()
        post(port, events[:half])
        sequential = half / (time.perf_counter() - started)
        print(f"{label}: {half:,} events posted one by one at {sequential:.0f}/s", flush=True)

        rest = events[half:]
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda chunk: post(port, chunk), [rest[i::clients] for i in range(clients)]))
        concurrent = len(rest) / (time.perf_counter() - started)
        print(f"{label}: {len(rest):,} events posted by {clients} clients at {concurrent:.0f}/s", flush=True)

        session = requests.Session()
        latencies, sizes = [], []
        for name in starts[:20]:  # warm-up: connection pool, statement caches
            session.get(f"{base}/api/v1/lineage", params={"nodeId": f"dataset:{NS}:{name}", "depth": 5})
        for name in starts:
            began = time.perf_counter()
            response = session.get(f"{base}/api/v1/lineage", params={"nodeId": f"dataset:{NS}:{name}", "depth": 5})
            latencies.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            sizes.append(len(response.json()["graph"]))
        p50, p99 = percentiles(latencies)
        return {
            "backend": label,
            "ingest_seq": sequential,
            "ingest_conc": concurrent,
            "p50": p50,
            "p99": p99,
            "nodes": statistics.median(sizes),
            "sizes": sizes,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=os.environ.get("LAKEMESH_TEST_POSTGRES_URL"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    jobs = synthetic_mesh()
    edges = sum(len(inputs) + 1 for _, inputs, _ in jobs)
    datasets = len({d for _, inputs, output in jobs for d in (*inputs, output)})
    print(f"synthetic mesh: {datasets:,} datasets, {len(jobs):,} jobs, {edges:,} edges")
    rng = random.Random(11)
    starts = [f"d{rng.randrange(DOMAINS)}.t{rng.randrange(PER_DOMAIN)}" for _ in range(args.queries)]

    lineage = in_memory_lineage(jobs)
    floor, floor_sizes = [], []
    for name in starts:
        began = time.perf_counter()
        floor_sizes.append(lineage(name, 5))
        floor.append((time.perf_counter() - began) * 1000)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run_backend("sqlite", f"sqlite:///{tmp}/bench.sqlite", jobs, starts, clients=args.clients))
    if args.postgres_url:
        name = f"lakemesh_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres_url, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        try:
            url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
            results.append(run_backend("postgresql", url, jobs, starts, clients=args.clients))
        finally:
            with psycopg.connect(args.postgres_url, autocommit=True) as db:
                db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    for result in results:
        assert result["sizes"] == floor_sizes, f"{result['backend']} returned other graphs than the in-memory traversal"

    f50, f99 = percentiles(floor)
    print(
        f"depth-5 lineage from {len(starts)} random datasets; median graph {statistics.median(floor_sizes):.0f} nodes"
    )
    print(f"{'':12} {'ingest seq ev/s':>16} {'ingest x' + str(args.clients) + ' ev/s':>16} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'p50 / floor':>12} {'p99 / floor':>12}")  # fmt: skip
    print(f"{'in-memory':12} {'-':>16} {'-':>16} {f50:8.2f} {f99:8.2f} {1:12.1f} {1:12.1f}")
    for r in results:
        print(
            f"{r['backend']:12} {r['ingest_seq']:16.0f} {r['ingest_conc']:16.0f} {r['p50']:8.2f} {r['p99']:8.2f}"
            f" {r['p50'] / f50:12.1f} {r['p99'] / f99:12.1f}"
        )


if __name__ == "__main__":
    main()
