"""Whether a process still runs: what a killed run leaves behind is cleaned up only once its owner is gone."""

from __future__ import annotations

import os

__all__ = ["process_exited"]


def process_exited(pid: int) -> bool:
    """True when no process `pid` exists on this host (one that exists but is another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
