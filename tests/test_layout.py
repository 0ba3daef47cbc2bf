"""The repository layout rules of docs/architecture.md that break everything when broken."""

import importlib
import subprocess
import sys
import sysconfig
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def test_import_platform_is_the_standard_library():
    module = importlib.import_module("platform")
    assert Path(module.__file__).parent == Path(sysconfig.get_paths()["stdlib"])
    assert callable(module.python_version)
    assert not (PROJECT_DIR / "platform" / "__init__.py").exists()


def test_lakemesh_comes_from_the_platform_folder():
    import lakemesh

    assert Path(lakemesh.__file__).resolve().parent == PROJECT_DIR / "platform" / "lakemesh"


def test_the_layers_run_one_way():
    """import-linter's contracts in pyproject.toml: layers one way, no circles, Dagster in orchestration only."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "3 kept, 0 broken" in done.stdout
