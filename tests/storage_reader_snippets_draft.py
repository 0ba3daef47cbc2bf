"""The README's recommended reader snippets exit cleanly, run many times in fresh interpreters.

`DeltaTable.to_pyarrow_table()` / `to_pyarrow_dataset()` read through a pyarrow `PyFileSystem` wrapping deltalake's
Python storage handler. Arrow's worker threads can drop the last reference to such a Python-backed file after the
read has returned; on Python 3.11 a foreign thread that takes the GIL while the interpreter finalizes is killed with
`pthread_exit`, which unwinds through a C++ `noexcept` destructor: `terminate called without an active exception`,
rc 134 / -6, in a few percent of runs (delta-rs #2184). The snippets below read through deltalake's Rust engine
(`DeltaTable.scan()`) or polars' native Parquet reader, which hold no Python objects on Arrow threads.
"""

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

RUNS = 30
FILES = 40  # many small files: the teardown race grows with the number of fragments a scan leaves behind
ROWS_PER_FILE = 2_000

SNIPPETS = {
    "deltalake": "import deltalake, pyarrow as pa\nprint(pa.table(deltalake.DeltaTable(PATH).scan()).num_rows)",
    "polars_read": "import polars as pl\nprint(pl.read_delta(PATH, version=VERSION).height)",
    "polars_scan": "import polars as pl\nprint(pl.scan_delta(PATH).collect().height)",
    "duckdb": "import deltalake, duckdb\n"
    "reader = deltalake.DeltaTable(PATH).scan()\n"
    "print(duckdb.execute('select count(*) from reader').fetchone()[0])",
}


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An orders-like Delta table with int, decimal, string and date columns spread over FILES commits."""
    path = tmp_path_factory.mktemp("delta") / "orders"
    for commit in range(FILES):
        keys = pa.array(range(commit * ROWS_PER_FILE, (commit + 1) * ROWS_PER_FILE), pa.int64())
        table = pa.table(
            {
                "o_orderkey": keys,
                "o_totalprice": pc.divide(keys.cast(pa.float64()), 7).cast(pa.decimal128(15, 2)),
                "o_orderstatus": pc.remainder(keys, 3).cast(pa.string()),
                "o_orderdate": pc.remainder(keys, 2400).cast(pa.int32()).cast(pa.date32()),
            }
        )
        write_deltalake(path, table, mode="append")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_reader_snippet_exits_cleanly(orders: Path, name: str) -> None:
    code = f"PATH = {str(orders)!r}\nVERSION = {FILES - 1}\n{SNIPPETS[name]}"
    failures = []
    for run in range(RUNS):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or done.stdout.strip() != str(FILES * ROWS_PER_FILE):
            failures.append(f"run {run}: rc {done.returncode}, out {done.stdout.strip()!r}, err {done.stderr[-300:]!r}")
    assert not failures, f"{len(failures)}/{RUNS} runs of {name!r} failed:\n" + "\n".join(failures)
