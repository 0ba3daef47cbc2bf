"""The default model registry (SQLite): runs that start at once share one store, created once."""

import os
import subprocess
import sys
import time

from lakemesh import Settings

_OPEN = """
import sys, time
from lakemesh.ml.registry import ModelRegistry
from lakemesh.settings import Settings
while time.time() < float(sys.argv[1]):
    pass
ModelRegistry.for_settings(Settings.from_env()).check_reachable()
"""


def test_processes_opening_a_new_registry_at_once_all_find_it(settings: Settings):
    """MLflow creates a new SQLite store's tables on first use; four processes doing it at the same moment all
    succeed (without the lock, some failed with "table ... already exists")."""
    start = str(time.time() + 8)  # each imports MLflow first, then all open the store together
    opening = [
        subprocess.Popen([sys.executable, "-c", _OPEN, start], env=os.environ.copy(), stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    failures = [process.communicate(timeout=120)[1] for process in opening if process.wait(timeout=120) != 0]
    assert failures == [], failures[0][-2000:] if failures else ""
