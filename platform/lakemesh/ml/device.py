"""Where XGBoost trains: the GPU when one is visible to a CUDA-enabled XGBoost, else the CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

import xgboost

from lakemesh.ml.spec import Device

if TYPE_CHECKING:
    from xgboost import Booster

__all__ = ["choose_device", "gpu_visible", "trained_on"]


def gpu_visible() -> bool:
    """Whether this XGBoost can use a GPU here: built with CUDA, a driver that lists a GPU, none hidden."""
    if not xgboost.build_info().get("USE_CUDA") or os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def choose_device(requested: Device) -> tuple[str, str | None]:
    """`cuda` or `cpu` for a declared device, and the warning to give when `cuda` was asked for and no GPU is
    visible (training falls back to the CPU; returned, not raised, so the caller logs it where its user looks)."""
    if requested == "cpu":
        return "cpu", None
    if gpu_visible():
        return "cuda", None
    if requested == "cuda":
        return "cpu", "device 'cuda' was requested but no GPU is visible: training on the CPU"
    return "cpu", None


def trained_on(booster: Booster) -> str:
    """The device XGBoost itself reports for a trained booster (`cuda:0`, `cpu`)."""
    return json.loads(booster.save_config())["learner"]["generic_param"]["device"]
