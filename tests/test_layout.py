"""The repository layout rules of DESIGN.md that break everything when broken."""

import importlib
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
