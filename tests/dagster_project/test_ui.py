"""`sailyard ui` serves the Dagster UI with the asset graph and the materialization metadata."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import subprocess_env
from tests.dagster_project.test_cli import SAILYARD, run_cli

pytestmark = pytest.mark.slow

ASSET_QUERY = """
{ assetNodes { assetKey { path } groupName
    assetMaterializations(limit: 1) { metadataEntries { label } } } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ui_shows_the_graph_and_metadata(tmp_path: Path):
    root = tmp_path / "lakehouse"
    assert run_cli(root, "materialize", "--select", "web").returncode == 0
    port = _free_port()
    process = subprocess.Popen(
        [SAILYARD, "ui", "--port", str(port)],
        env=subprocess_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # dagster dev ignores SIGTERM without job control (FACTS.md)
    )
    try:
        nodes = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and nodes is None:
            assert process.poll() is None, "the UI exited"
            with contextlib.suppress(httpx.HTTPError):  # not listening yet: try again
                reply = httpx.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": ASSET_QUERY}, timeout=10
                )
                data = reply.json().get("data") if reply.status_code == 200 else None
                if data and data["assetNodes"]:
                    nodes = data["assetNodes"]
            time.sleep(1)
        assert nodes is not None, "the UI did not answer within 180 s"
        by_key = {"/".join(node["assetKey"]["path"]): node for node in nodes}
        assert set(by_key) == {
            "web_snapshots",
            "documents",
            "document_rejects",
            "document_clusters",
            "entities",
            "mentions",
            "relations",
            "graph_stats",
            "passages",
            "search_index",
            "qa_tasks",
            "base_model",
            "trajectories",
            "trajectory_steps",
        }
        labels = {
            e["label"] for e in by_key["documents"]["assetMaterializations"][0]["metadataEntries"]
        }
        assert {"dagster/row_count", "preview", "dagster/column_schema"} <= labels
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
