"""A materialization killed with SIGKILL mid-write leaves no corrupt table; a rerun is exact."""

import os
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from lakehouse import Lakehouse
from lakehouse.parquet_io import PAUSE_BEFORE_RENAME_ENV_VAR, TEMP_MARKER
from tests.conftest import subprocess_env
from tests.dagster_project.test_cli import SAILYARD, run_cli

pytestmark = pytest.mark.slow
VOLATILE = ["_run_id", "_produced_at"]  # the only columns a rerun may change


def _start_and_kill_mid_write(root: Path) -> list[Path]:
    """Start `sailyard materialize`, SIGKILL it while a table file is half-committed."""
    env = subprocess_env(root) | {PAUSE_BEFORE_RENAME_ENV_VAR: "120"}
    process = subprocess.Popen(
        [SAILYARD, "materialize", "--select", "web"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    temporaries: list[Path] = []
    while time.monotonic() < deadline and not temporaries:
        assert process.poll() is None, "materialize finished before it could be killed"
        temporaries = list((root / "tables").glob(f"**/*{TEMP_MARKER}*"))
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert temporaries, "no write was caught in progress"
    return temporaries


def _stable(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.drop(VOLATILE).sort(key)


def test_killed_first_run_leaves_no_table_and_rerun_builds_it(tmp_path: Path):
    root = tmp_path / "lakehouse"
    temporaries = _start_and_kill_mid_write(root)
    lakehouse = Lakehouse(root)
    assert temporaries[0].exists()  # the half-committed file is a hidden temporary ...
    assert not lakehouse.has_data("web_snapshots")  # ... never the table
    result = run_cli(root, "materialize", "--select", "web")
    assert result.returncode == 0, result.stderr
    assert not list((root / "tables").glob(f"**/*{TEMP_MARKER}*"))  # swept by the next write
    assert lakehouse.read("web_snapshots").height == 2000 + 256  # articles + Factbook profiles


def test_killed_rerun_keeps_the_previous_version_and_next_run_is_identical(tmp_path: Path):
    root = tmp_path / "lakehouse"
    assert run_cli(root, "materialize", "--select", "web").returncode == 0
    lakehouse = Lakehouse(root)
    snapshots_before = _stable(lakehouse.read("web_snapshots"), "snapshot_id")
    documents_before = _stable(lakehouse.read("documents"), "doc_id")

    _start_and_kill_mid_write(root)
    # The previous version is intact and queryable while the temporary lies beside it.
    assert _stable(lakehouse.read("web_snapshots"), "snapshot_id").equals(snapshots_before)
    assert lakehouse.sql("SELECT count(*) FROM documents").item() == documents_before.height

    result = run_cli(root, "materialize", "--select", "web")
    assert result.returncode == 0, result.stderr
    assert _stable(lakehouse.read("web_snapshots"), "snapshot_id").equals(snapshots_before)
    assert _stable(lakehouse.read("documents"), "doc_id").equals(documents_before)
