import asyncio
import json

import polars as pl

from agents.paradigms import EpisodeLimits, PromptSettings, ReAct, run_episode
from agents.policy import EpisodeTask, TokenCounter
from agents.prompts import NO_FEW_SHOT
from agents.tool_runner import ToolRunner
from agents.trajectory_rows import (
    TrajectoryMeta,
    judge_trajectories,
    trajectory_rows,
    visited_urls,
)
from evaluation.judge import JudgeSettings
from lakehouse.tables import TRAJECTORIES, TRAJECTORY_STEPS
from tests.agents.scripted import RecordingTools, ScriptedActor
from tests.loopback import QuietHandler, serve

TASK = {
    "task_id": "qa_1",
    "question": "Which city is the capital of Australia?",
    "answer": "Canberra",
    "answer_aliases": ["Canberra, ACT"],
    "answer_type": "entity",
    "split": "train",
    "kind": "factual",
    "hops": 1,
}
VISIT = (
    "<think>read the page</think>"
    '<tool_call>{"name": "visit", "arguments": {"url": "https://en.wikipedia.org/wiki/Australia",'
    ' "goal": "capital"}}</tool_call>'
)


def episode(answer: str):
    actor = ScriptedActor(
        [VISIT, f"<think>The page names Canberra.</think><answer>{answer}</answer>"]
    )
    runner = ToolRunner(RecordingTools(visit_text="Canberra is the capital."))
    paradigm = ReAct(PromptSettings(few_shot=NO_FEW_SHOT))
    task = EpisodeTask("qa_1", TASK["question"], TASK)
    return asyncio.run(
        run_episode(task, actor, paradigm, runner, TokenCounter(), EpisodeLimits(max_turns=3))
    )


def meta(sample: int = 0) -> TrajectoryMeta:
    return TrajectoryMeta(
        collection="synthesis",
        task=TASK,
        policy="llm",
        model="m",
        paradigm="react",
        paradigm_version="react-1",
        method="llm_sampling",
        sample=sample,
        prompt_hash="h",
    )


def test_rows_carry_verdict_rewards_lineage_and_fit_the_schemas():
    ran = episode("canberra")
    rows = trajectory_rows(
        ran,
        meta(),
        gold_names=[["Australia"], ["Canberra"]],
        doc_of_url=lambda url: "doc_australia" if url.endswith("/Australia") else None,
    )
    (row,) = rows["trajectories"]
    assert row["correct"] is True
    assert row["verdict_method"] == "exact"
    assert row["reward_correctness"] == 1.0
    assert row["reward_entity_coverage"] == 1.0  # both gold entities named in the turns
    assert row["visited_urls"] == ["https://en.wikipedia.org/wiki/Australia"]
    assert row["parent_ids"] == ["qa_1", "doc_australia"]  # the task, then the pages read
    pl.DataFrame(rows["trajectories"], schema=TRAJECTORIES.schema)  # fits the table
    steps = pl.DataFrame(rows["trajectory_steps"], schema=TRAJECTORY_STEPS.schema)
    turns = steps.filter(pl.col("kind") == "turn")
    assert turns.get_column("token_ids").list.len().min() > 0
    assert steps.get_column("step").to_list() == list(range(steps.height))


def test_wrong_answers_are_stored_with_the_reason():
    (row,) = trajectory_rows(episode("Sydney"), meta(), gold_names=[["Canberra"]])["trajectories"]
    assert row["correct"] is False
    assert row["reward_correctness"] == 0.0
    assert row["verdict_reason"]


def test_ids_are_stable_and_differ_by_sample():
    assert meta(0).trajectory_id == meta(0).trajectory_id
    assert meta(0).trajectory_id != meta(1).trajectory_id
    assert visited_urls(episode("x")) == ["https://en.wikipedia.org/wiki/Australia"]


def test_a_judge_rescores_only_the_answers_the_rules_rejected():
    calls = []

    class Handler(QuietHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            prediction = body["messages"][-1]["content"].split("Predicted answer: ", 1)[1]
            calls.append(prediction)
            verdict = "CORRECT" if prediction.startswith("Canberra, the capital") else "INCORRECT"
            content = f"VERDICT: {verdict}\nREASON: compared with the gold answer."
            self.send_json(
                200,
                {
                    "model": "judge",
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 40, "completion_tokens": 9},
                },
            )  # fmt: skip

    rows = [
        trajectory_rows(episode(text), meta(number), gold_names=[["Canberra"]])["trajectories"][0]
        for number, text in enumerate(["Canberra", "Canberra, the capital city", "Sydney"])
    ]
    frame = pl.DataFrame(rows, schema=TRAJECTORIES.schema)
    tasks = pl.DataFrame([{**TASK}])
    with serve(Handler) as url:
        settings = JudgeSettings(endpoint=f"{url}/v1", model="judge", api_key_env=None)
        judged = judge_trajectories(frame, tasks, settings)
    assert sorted(calls) == ["Canberra, the capital city", "Sydney"]  # not the exact match
    assert judged.get_column("correct").to_list() == [True, True, False]
    assert judged.get_column("verdict_method").to_list() == ["exact", "judge", "judge"]
    assert judged.get_column("verdict_reason")[1].startswith("judge ")
