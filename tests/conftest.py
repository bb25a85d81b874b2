"""Shared fixtures: an isolated lakehouse root and Dagster home per test."""

import os
from pathlib import Path

import pytest

from lakehouse import Lakehouse


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh lakehouse root; SAILYARD_HOME and DAGSTER_HOME point into it."""
    root = tmp_path / "lakehouse"
    root.mkdir()
    dagster_home = root / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("SAILYARD_HOME", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return root


@pytest.fixture
def lakehouse(home: Path) -> Lakehouse:
    return Lakehouse(home)


def subprocess_env(root: Path) -> dict[str, str]:
    """The environment for running `sailyard` in a subprocess against `root`."""
    env = dict(os.environ)
    env["SAILYARD_HOME"] = str(root)
    env["DAGSTER_HOME"] = str(root / "dagster")
    env.pop("SAILYARD_PAUSE_BEFORE_RENAME", None)
    return env
