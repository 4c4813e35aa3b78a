"""Shared test setup: real PhysioNet records from ../shared/data, and no network access.

Tests that need real records read them from ``../shared/data`` (or ``$ECGAPP_DATA_DIR`` when set); CI
always has it. Downloads are switched off so that a missing file fails fast instead of hanging.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ecgapp.physionet import SHARED_DATA_DIR

os.environ.setdefault("ECGAPP_OFFLINE", "1")
DATA_DIR = Path(os.environ.get("ECGAPP_DATA_DIR") or SHARED_DATA_DIR)
MITDB_DIR = DATA_DIR / "mitdb"
NSTDB_DIR = DATA_DIR / "nstdb"

if not (MITDB_DIR / "100.hea").is_file():  # pragma: no cover - a setup problem, not a test result
    raise pytest.UsageError(
        f"MIT-BIH data not found at {MITDB_DIR}: put the shared data beside the project (../shared/data) "
        f"or set ECGAPP_DATA_DIR to a folder holding mitdb/ and nstdb/"
    )


@pytest.fixture
def mitdb_copy(tmp_path):
    """Copy files of a mitdb record into a temporary folder; returns a function name -> record path."""

    def copy(name: str, exts=("hea", "dat", "atr")) -> Path:
        for ext in exts:
            shutil.copyfile(MITDB_DIR / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
        return tmp_path / name

    return copy
