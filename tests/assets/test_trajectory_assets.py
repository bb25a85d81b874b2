"""The trajectories group materialized through Dagster on a replay slice, with the real
embedded model answering through the real tools (in-process transformers backend)."""

import json
import os
import signal
import subprocess
import time

import dagster as dg
import polars as pl
import pytest
from transformers import AutoTokenizer

from assets.index import passages, search_index_asset
from assets.knowledge import entities, graph_stats_asset, mentions_asset, relations_asset
from assets.models import base_model
from assets.partitions import CRAWLS
from assets.synthesis import qa_tasks
from assets.trajectories import trajectories
from assets.web import extract_documents, web_snapshots
from dagster_project.resources import LakehouseResource, VllmServerResource
from lakehouse import Lakehouse
from lakehouse.journal import RunJournal
from lakehouse.lineage import trace
from lakehouse.tables import TRAJECTORIES
from tests.conftest import subprocess_env
from tests.dagster_project.test_cli import SAILYARD

pytestmark = pytest.mark.slow

ALL = [
    web_snapshots,
    extract_documents,
    entities,
    mentions_asset,
    relations_asset,
    graph_stats_asset,
    passages,
    search_index_asset,
    qa_tasks,
    base_model,
    trajectories,
]
QA_CONFIG = {k: 30 for k in ("open_world_per_kind", "webshaper", "sailorfog", "webleaper")}
TRAJECTORY_CONFIG = {
    "planner_tasks": 8,
    "has_max_branches": 1,
    "reasoning_tasks": 4,
    "llm_tasks": 2,
    "llm_samples": 1,
    "backend": "transformers",
    "max_turns": 2,
    "turn_tokens": 96,
    "concurrency": 2,
}


def _materialize(instance, resources, selection, config=None):
    result = dg.materialize(
        ALL, selection=selection, instance=instance, resources=resources, run_config=config or {}
    )
    assert result.success
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("traj") / "lakehouse"
    resources = {"lakehouse": LakehouseResource(root=str(home)), "vllm": VllmServerResource()}
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster"))) as instance:
        instance.add_dynamic_partitions(CRAWLS.name, ["c"])
        dg.materialize(
            ALL,
            selection=[dg.AssetKey("web_snapshots")],
            instance=instance,
            resources=resources,
            partition_key="c",
            run_config={"ops": {"web_snapshots": {"config": {"replay": {"limit": 150}}}}},
        )
        upstream = [k for a in ALL[1:-1] for k in a.keys]
        qa = {"ops": {"qa_tasks": {"config": {**QA_CONFIG, "webwalker": 30}}}}
        _materialize(instance, resources, upstream, qa)
        config = {"ops": {"trajectories": {"config": TRAJECTORY_CONFIG}}}
        first = _materialize(instance, resources, list(trajectories.keys), config)
        again = _materialize(instance, resources, list(trajectories.keys), config)
        yield Lakehouse(home), first, again


def test_every_trajectory_has_its_steps_and_checks_pass(built):
    lakehouse, first, _ = built
    assert all(check.passed for check in first.get_asset_check_evaluations())
    rows = lakehouse.read("trajectories")
    steps = lakehouse.read("trajectory_steps")
    by_policy = dict(rows.group_by("policy").len().rows())
    assert by_policy["llm"] == 2
    assert by_policy["planner"] == 8
    assert by_policy["reasoning"] == 4
    branches = rows.filter(pl.col("policy") == "has")
    assert branches.get_column("parent_trajectory_id").is_in(rows.get_column("trajectory_id")).all()
    counts = steps.group_by("trajectory_id").len()
    assert counts.height == rows.height
    assert set(rows.get_column("termination")) <= {"answer", "max_turns", "context_limit"}


def test_model_turns_keep_the_sampled_tokens_exactly(built):
    lakehouse, _, _ = built
    llm = lakehouse.read("trajectories").filter(pl.col("policy") == "llm")
    turns = lakehouse.read("trajectory_steps").filter(
        (pl.col("kind") == "turn") & pl.col("trajectory_id").is_in(llm.get_column("trajectory_id"))
    )
    assert turns.height >= 2
    model_dir = lakehouse.root / "models" / "smollm2-135m-instruct"
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    for ids, logprobs, raw, completion in turns.select(
        "token_ids", "logprobs", "raw_text", "completion_tokens"
    ).iter_rows():
        assert len(ids) == len(logprobs) <= completion
        assert all(lp <= 0 for lp in logprobs)
        assert tokenizer.decode(ids, skip_special_tokens=True) == raw


def test_rerun_is_idempotent_and_queryable_with_sql(built):
    lakehouse, first, again = built

    def versions(result):
        return {
            event.asset_key: event.step_materialization_data.materialization.tags.get(
                "dagster/data_version"
            )
            for event in result.get_asset_materialization_events()
        }

    assert versions(first) == versions(again)  # the same trajectory and step ids
    rows = lakehouse.read("trajectories")
    assert rows.get_column("trajectory_id").n_unique() == rows.height
    stats = lakehouse.sql("SELECT policy, trajectories FROM trajectory_stats")
    assert stats.get_column("trajectories").sum() == rows.height
    lakehouse.sql("SELECT count(*) FROM sft_trajectories")  # the SFT selection view exists


def test_a_planner_trajectory_traces_back_to_its_task_and_the_pages_it_read(built):
    lakehouse, _, _ = built
    rows = lakehouse.read("trajectories").filter(
        (pl.col("policy") == "planner") & (pl.col("visited_urls").list.len() > 0)
    )
    node = trace(lakehouse, rows.get_column("trajectory_id")[0])
    tables = [n.table for n in node.walk()]
    assert tables[0] == "trajectories"
    assert "qa_tasks" in tables
    assert "documents" in tables  # a visited page, then on to its snapshot
    assert "web_snapshots" in tables


KILL_CONFIG = {
    "trajectories": {
        "planner_tasks": 40,
        "has": False,
        "reasoning_tasks": 0,
        "llm_tasks": 0,
        "concurrency": 1,
        "flush_every": 1,
    }
}


def test_a_killed_generation_run_resumes_without_redoing_or_duplicating(built, tmp_path):
    """Runs last: it replaces the synthesis partition the tests above read."""
    lakehouse, _, _ = built
    root = lakehouse.root
    config = tmp_path / "kill.json"
    config.write_text(json.dumps(KILL_CONFIG))
    command = [SAILYARD, "materialize", "--select", "trajectories", "--config", str(config)]
    env = subprocess_env(root) | {"DAGSTER_HOME": str(tmp_path / "dagster")}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    journals = root / "journals" / "synthesis"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run finished before it could be killed"
        if len(list(journals.glob("*/chunk-*"))) >= 3:
            break
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    (journal,) = [path for path in journals.iterdir() if path.is_dir()]
    done_before = RunJournal(journal).done_keys()
    journaled = RunJournal(journal).read("trajectories", TRAJECTORIES.schema, "trajectory_id")
    assert 3 <= len(done_before) < 40

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = lakehouse.read("trajectories")
    assert rows.height == 40
    assert rows.get_column("trajectory_id").n_unique() == 40  # no duplicates
    # The journaled trajectories were kept as they were, not generated again.
    kept = rows.join(journaled.select("trajectory_id", "wall_s"), on="trajectory_id")
    assert kept.height == len(done_before)
    assert (kept.get_column("wall_s") == kept.get_column("wall_s_right")).all()
    steps = lakehouse.read("trajectory_steps")
    assert steps.get_column("step_id").n_unique() == steps.height
    assert not journal.exists()  # cleared once the tables were written
