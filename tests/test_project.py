"""Project hygiene: CI runs exactly the README's commands; no PhysioNet data is tracked by git."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_starts_with_install_test_and_run_commands():
    install, test, run = _readme_commands()[:3]
    assert "pip install -r requirements-dev.txt" in install
    assert "pytest" in test and "streamlit run streamlit_app.py" in run
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci and test in ci  # CI runs exactly what a new user runs


def test_torch_is_pinned():
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().split()


def test_no_database_files_are_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert not [f for f in tracked if re.search(r"\.(dat|atr|hea|edf)$", f)]


def test_server_listens_on_loopback_only():
    """Patient ECGs: `streamlit run streamlit_app.py` from the project root must not listen on every interface."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] == "none"  # no tracebacks with server paths in the browser
    assert config["server"]["fileWatcherType"] == "none"  # no inotify flood from .venv inside the project
