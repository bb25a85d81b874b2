"""The `sailyard` command as users run it: a real subprocess against a real lakehouse."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import Lakehouse
from tests.conftest import build_replayed_lakehouse, subprocess_env

SAILYARD = shutil.which("sailyard", path=str(Path(sys.executable).parent)) or "sailyard"


def run_cli(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SAILYARD, *args],
        env=subprocess_env(root),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def built_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lakehouse with 40 replayed snapshots and their documents (library calls, no Dagster)."""
    root = tmp_path_factory.mktemp("cli") / "lakehouse"
    build_replayed_lakehouse(Lakehouse(root), limit=40)
    return root


def test_sql_prints_a_table_csv_and_json(built_root: Path):
    query = "SELECT doc_id, title, parent_ids FROM documents ORDER BY doc_id LIMIT 3"
    table = run_cli(built_root, "sql", query)
    assert table.returncode == 0, table.stderr
    assert "doc_id" in table.stdout
    assert "3 row(s)" in table.stderr
    csv_lines = run_cli(built_root, "sql", query, "--format", "csv").stdout.splitlines()
    assert csv_lines[0] == "doc_id,title,parent_ids"
    assert len(csv_lines) == 4
    rows = json.loads(run_cli(built_root, "sql", query, "--format", "json").stdout)
    assert len(rows) == 3
    assert rows[0]["parent_ids"][0].startswith("snap_")


def test_binary_columns_are_summarized_not_dumped(built_root: Path):
    result = run_cli(built_root, "sql", "SELECT body FROM web_snapshots LIMIT 1", "-f", "json")
    assert isinstance(json.loads(result.stdout)[0]["body"], int)


def test_lineage_walks_a_document_back_to_its_fetch(built_root: Path):
    doc = Lakehouse(built_root).read("documents").row(0, named=True)
    result = run_cli(built_root, "lineage", doc["doc_id"])
    assert result.returncode == 0, result.stderr
    assert "documents" in result.stdout
    assert "web_snapshots" in result.stdout
    assert doc["snapshot_id"] in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sql", "SELECT * FROM no_such_table"), "Table with name no_such_table does not exist"),
        (("sql", "SELEC 1"), "syntax error"),
        (("sql", "SELECT * FROM relations"), "unknown"),  # not a registered table either
        (("lineage", "doc_0000"), "no row of table 'documents'"),
        (("lineage", "what"), "no known table prefix"),
        (("materialize", "--select", "nope"), "unknown group or asset 'nope'"),
        (("materialize", "--profile", "huge"), "unknown profile 'huge'"),
        (("bench", "nope"), "no benchmark for stage 'nope'"),
    ],
)
def test_bad_input_is_one_clear_line_without_traceback(built_root: Path, args, message):
    result = run_cli(built_root, *args)
    assert result.returncode == 2
    assert message in result.stderr or (message == "unknown" and "does not exist" in result.stderr)
    assert "Traceback" not in result.stderr


def test_a_failed_run_reports_its_root_cause_in_one_line(tmp_path: Path):
    result = run_cli(tmp_path / "empty", "materialize", "--select", "documents")
    assert result.returncode == 1
    assert "table 'web_snapshots' has no data" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(built_root: Path):
    result = run_cli(built_root, "--debug", "lineage", "what")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.slow
def test_materialize_runs_through_dagster_and_is_recorded_in_the_instance(tmp_path: Path):
    root = tmp_path / "lakehouse"
    result = run_cli(root, "materialize", "--select", "web")
    assert result.returncode == 0, result.stderr
    assert "documents" in result.stdout
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(root / "dagster"))) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2
        assert all(run.is_success for run in runs)
        assert instance.get_dynamic_partitions("crawls") == ["wiki-en-smoke"]
        assert instance.get_latest_materialization_event(dg.AssetKey("documents")) is not None
    lakehouse = Lakehouse(root)
    assert lakehouse.read("web_snapshots").height == 2000 + 256  # articles + Factbook profiles
    assert lakehouse.sql("SELECT count(*) FROM documents").item() > 1900
