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


def build_replayed_lakehouse(lakehouse: Lakehouse, limit: int, run_id: str = "test-run") -> None:
    """Replay `limit` recorded articles as crawl 'c1' and build their documents, through the
    library (no Dagster): a small real lakehouse for tests of what reads it."""
    from lakehouse.lineage import RunStamp, stamp
    from lakehouse.web.documents import QualitySettings, build_documents
    from lakehouse.web.replay import ReplaySettings, replay_snapshots

    run = RunStamp.now(run_id, "v1")
    lakehouse.write(
        "web_snapshots",
        stamp(replay_snapshots("c1", ReplaySettings(limit=limit, include_factbook=False)), run),
        "c1",
    )
    built = build_documents(lakehouse.read("web_snapshots"), QualitySettings())
    lakehouse.write("documents", stamp(built.documents, run))
    lakehouse.write("document_rejects", stamp(built.rejects, run))
