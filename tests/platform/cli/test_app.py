"""The `lakemesh` command as a whole: its command groups, a fast start, and platform errors as one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import typer
from lakemesh.cli import app

from ...conftest import publish_customers

LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))
HEAVY = ("dagster", "dbt", "polars", "pandera", "pyspark", "mlflow", "deltalake", "sqlalchemy")


def _lakemesh(*args: str, lakehouse: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKEMESH_LAKEHOUSE": str(lakehouse)}
    return subprocess.run([LAKEMESH, *args], capture_output=True, text=True, env=env, timeout=120)


def test_every_command_sits_in_its_group_in_order():
    root = typer.main.get_command(app)
    assert list(root.commands) == [
        *("generate", "prepare", "run", "backfill", "read", "maintain", "reset", "catalog", "models"),
    ]
    assert list(root.commands["catalog"].commands) == [
        "list",
        "show",
        "lineage",
        "impact",
        "serve",
        "reconcile",
        "sync",
    ]
    assert list(root.commands["models"].commands) == ["list", "show"]


_HELP_THEN_LIST_MODULES = """
import json, sys
from lakemesh.cli import app
for args in ([], ["catalog"], ["models"], ["run"], ["backfill"], ["read"], ["maintain"], ["catalog", "serve"],
             ["models", "show"]):
    try:
        app([*args, "--help"])
    except SystemExit:
        pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_help_loads_no_heavy_library():
    done = subprocess.run([sys.executable, "-c", _HELP_THEN_LIST_MODULES], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout.splitlines()[-1])) & set(HEAVY) == set()


def test_a_platform_error_is_one_line_and_exit_code_2(tmp_path: Path):
    shown = _lakemesh("read", "nodot", lakehouse=tmp_path)
    assert shown.returncode == 2 and shown.stdout == ""
    assert shown.stderr.splitlines() == ["error: a product name is '<domain>.<product>', got 'nodot'"]
    debug = _lakemesh("--debug", "read", "nodot", lakehouse=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_wrong_option_or_argument_is_an_error_like_any_other(tmp_path: Path):
    """Every CLI error is one `error: ...` and exit code 2, whether the platform or the command line found it."""
    for args, said in (
        (["run", "--scale-factor", "x"], "error: Invalid value for '--scale-factor' / '-s': 'x' is not a valid float."),
        (["catalog", "show"], "error: Missing argument 'product'."),
        (["catalog", "list", "--bogus"], "error: No such option: --bogus"),
    ):
        shown = _lakemesh(*args, lakehouse=tmp_path)
        assert shown.returncode == 2 and shown.stdout == "", args
        (line,) = shown.stderr.splitlines()
        assert line.startswith(said) and line.endswith(" --help`)"), line  # no usage box, no traceback
    shown = _lakemesh("catalog", lakehouse=tmp_path)  # a group without a command: its help
    assert shown.returncode == 0 and "Usage: lakemesh catalog" in shown.stdout


def test_catalog_list_on_an_empty_lakehouse_is_an_empty_table(tmp_path: Path):
    shown = _lakemesh("catalog", "list", lakehouse=tmp_path / "lakehouse")
    assert shown.returncode == 0, shown.stderr
    assert all(heading in shown.stdout for heading in ("product", "owner", "delta version", "last run"))


def test_a_typo_d_name_is_an_error_that_suggests_the_name_meant(settings):
    """Every lookup of an unknown name exits 2 with `error:` and the closest known name."""
    publish_customers(settings)
    for args in (["catalog", "show", "customers.custmer"], ["read", "customers.custmer"]):
        shown = _lakemesh(*args, lakehouse=Path(settings.lakehouse))
        assert shown.returncode == 2, args
        message = " ".join(shown.stderr.split())
        assert message.startswith("error: ") and "did you mean customers.customer?" in message, message


def test_every_command_that_prints_a_table_or_tree_prints_json_for_scripts(settings):
    publish_customers(settings, rows=5)
    lakehouse = Path(settings.lakehouse)

    def as_json(*args: str):
        shown = _lakemesh(*args, "--json", lakehouse=lakehouse)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)  # stdout holds the JSON alone

    product = as_json("catalog", "show", "customers.customer")
    assert (product["name"], product["owner"], product["current_version"]) == (
        "customers.customer",
        "customer-data",
        "0",
    )
    assert "name" in {f["name"] for f in product["fields"]} and product["checks"]
    assert as_json("catalog", "list")[0]["product"] == "customers.customer"
    tree = as_json("catalog", "lineage", "customers.customer")
    assert (tree["name"], tree["model"], tree["version"], tree["children"]) == ("customers.customer", False, "0", [])
    assert as_json("catalog", "impact", "customers.customer") == []
    rows = as_json("read", "customers.customer", "--limit", "2")
    assert len(rows) == 2 and {"customer_key", "name", "market_segment"} <= set(rows[0])
    (maintained,) = (m for m in as_json("maintain", "customers.customer") if m["uri"].endswith("customers/customer"))
    assert maintained["version"] >= 0 and maintained["compacted_files"] >= 0
