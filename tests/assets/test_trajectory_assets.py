"""The trajectories group materialized through Dagster on a replay slice, with the real
embedded model answering through the real tools (in-process transformers backend)."""

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
from lakehouse.lineage import trace

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
    assert rows.height == 2
    assert set(rows.get_column("policy")) == {"llm"}
    counts = steps.group_by("trajectory_id").len()
    assert counts.height == rows.height
    assert set(rows.get_column("termination")) <= {"answer", "max_turns", "context_limit"}


def test_model_turns_keep_the_sampled_tokens_exactly(built):
    lakehouse, _, _ = built
    turns = lakehouse.read("trajectory_steps").filter(pl.col("kind") == "turn")
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
    assert rows.get_column("trajectory_id").n_unique() == rows.height == 2
    stats = lakehouse.sql("SELECT policy, trajectories FROM trajectory_stats")
    assert stats.get_column("trajectories").sum() == 2
    lakehouse.sql("SELECT count(*) FROM sft_trajectories")  # the SFT selection view exists


def test_a_trajectory_traces_back_to_its_task(built):
    lakehouse, _, _ = built
    trajectory_id = lakehouse.read("trajectories").get_column("trajectory_id")[0]
    node = trace(lakehouse, trajectory_id)
    labels = [n.table for n in node.walk()]
    assert labels[0] == "trajectories"
    assert "qa_tasks" in labels
