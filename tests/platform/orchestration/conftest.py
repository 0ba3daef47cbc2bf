"""The model assets' tests share the ML tests' project of a features and a predictions contract."""

from ..ml.conftest import ml_project  # noqa: F401 (a fixture, shared)
