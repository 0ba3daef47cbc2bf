"""The README's reader snippets run verbatim, many times, in fresh interpreters, and never abort.

`DeltaTable.to_pyarrow_table()` / `to_pyarrow_dataset()` read through a pyarrow
`PyFileSystem` wrapping deltalake's Python storage handler; Arrow's worker
threads can drop the last reference to such a Python-backed file after the read
returned, and on Python 3.11 a thread taking the GIL during finalization is
killed through a C++ `noexcept` destructor: rc 134, "terminate called without an
active exception" (delta-rs #2184), in about 1 run of 10 on a table of many
files. The README's snippets read through deltalake's Rust engine (`scan()`) or
polars' own Parquet reader instead.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from ...conftest import PROJECT_DIR

pytestmark = pytest.mark.slow

RUNS = 30
FILES = 40  # many small files: the teardown race grows with the number of fragments a scan leaves behind
ROWS_PER_FILE = 2_000


def _readme_snippets() -> list[str]:
    """Every Python block of the README's 'Reading a product' section, as written."""
    text = (PROJECT_DIR / "README.md").read_text()
    section = text.split("## Reading a product", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


SNIPPETS = _readme_snippets()
EXPECTED = {  # what each snippet prints, found by what it calls
    'DeltaTable("lakehouse/sales/orders").scan()': str(FILES * ROWS_PER_FILE),
    "pl.read_delta(": f"shape: ({ROWS_PER_FILE:_}, 4)",
    "lakemesh.read(": f"shape: ({FILES * ROWS_PER_FILE:_}, 4)",
    "duckdb.sql(": "ASIA",
}


@pytest.fixture(scope="module")
def lakehouse_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose `lakehouse/` holds `sales/orders` (many files) and `sales/revenue_by_nation`."""
    root = tmp_path_factory.mktemp("consumer")
    orders = root / "lakehouse" / "sales" / "orders"
    for commit in range(FILES):
        numbers = np.arange(commit * ROWS_PER_FILE, (commit + 1) * ROWS_PER_FILE, dtype=np.int64)
        keys = pa.array(numbers)
        table = pa.table(
            {
                "order_key": keys,
                "total_price": pc.divide(keys.cast(pa.float64()), 7).cast(pa.decimal128(15, 2)),
                "order_status": pa.array(numbers % 3).cast(pa.string()),
                "order_date": pa.array((numbers % 2400).astype(np.int32)).cast(pa.date32()),
            }
        )
        write_deltalake(orders, table, mode="append")
    revenue = pa.table({"region_name": ["ASIA", "EUROPE", "ASIA"], "revenue": [1.5, 2.0, 3.0]})
    write_deltalake(root / "lakehouse" / "sales" / "revenue_by_nation", revenue)
    return root


def test_the_readme_shows_each_reader_once():
    assert sorted(next(k for k in EXPECTED if k in snippet) for snippet in SNIPPETS) == sorted(EXPECTED)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"readme-reader-{i}" for i in range(len(SNIPPETS))])
def test_readme_reader_snippet_never_aborts(lakehouse_root: Path, snippet: str) -> None:
    expected = next(printed for call, printed in EXPECTED.items() if call in snippet)
    failures = []
    for run in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-c", snippet], cwd=lakehouse_root, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0 or expected not in done.stdout:
            failures.append(f"run {run}: rc {done.returncode}, out {done.stdout[-200:]!r}, err {done.stderr[-300:]!r}")
    assert not failures, f"{len(failures)}/{RUNS} runs failed:\n{snippet}\n" + "\n".join(failures)
