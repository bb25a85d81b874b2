import asyncio

import pytest

from agents.episode import StepKind
from agents.format import Termination
from agents.paradigms import EpisodeLimits, PromptSettings, ReAct, ReSum, run_episode
from agents.paradigms.resum import SUMMARY_REQUEST_TEMPLATE, extract_summary
from agents.policy import EpisodeTask, Purpose, TokenCounter
from agents.prompts import NO_FEW_SHOT
from agents.tool_runner import ToolRunner
from tests.agents.scripted import RecordingTools, ScriptedActor

QUESTION = "What is the capital of Australia?"
TASK = EpisodeTask("qa-1", QUESTION, {})
SEARCH = (
    "<think>search</think>"
    '<tool_call>{"name": "search", "arguments": {"query": ["capital of Australia"]}}</tool_call>'
)
VISIT = (
    "<think>read</think>"
    '<tool_call>{"name": "visit", "arguments": {"url": "https://example.org/au", '
    '"goal": "capital"}}</tool_call>'
)
ANSWER = "<think>found it</think><answer>Canberra</answer>"
SUMMARY = (
    "<think>condense</think><summary>Canberra is the capital (https://example.org/au).</summary>"
)
STATE = (
    "Question: What is the capital of Australia?\n\n"
    "Your research so far, summarized:\n"
    "Canberra is the capital (https://example.org/au).\n\n"
    "Continue from this state: if it already answers the question, give the answer; "
    "otherwise go on researching."
)
# With the estimate counter a 1,000-word page is ~1,400 tokens: the system prompt (~600)
# plus one such page passes half of a 4,000-token window, two pages plus the system prompt
# still fit, a third overflows it.
LONG_PAGE = "word " * 1000
LIMITS = EpisodeLimits(max_turns=6, max_context_tokens=4000, turn_tokens=256)


def run(turns, *, tools=None, limits=LIMITS, paradigm=None):
    actor = ScriptedActor(turns)
    runner = ToolRunner(tools or RecordingTools(LONG_PAGE, "Canberra is the capital."))
    paradigm = paradigm or ReSum(PromptSettings(few_shot=NO_FEW_SHOT), threshold=0.5)
    episode = asyncio.run(run_episode(TASK, actor, paradigm, runner, TokenCounter(), limits))
    return episode, actor


def test_summary_replaces_the_history_once_the_context_passes_the_threshold():
    episode, actor = run({Purpose.ACT: [SEARCH, ANSWER], Purpose.SUMMARIZE: [SUMMARY]})
    steps = episode.transcript.steps
    assert [step.kind for step in steps] == [
        StepKind.SYSTEM,
        StepKind.QUESTION,
        StepKind.TURN,
        StepKind.TOOL_RESPONSE,
        StepKind.SUMMARY_REQUEST,
        StepKind.SUMMARY,
        StepKind.STATE,
        StepKind.TURN,
    ]
    # The summary turn saw the whole live context plus the request.
    purpose, messages = actor.contexts[1]
    assert purpose is Purpose.SUMMARIZE
    assert steps[5].context_steps == (0, 1, 2, 3, 4)
    assert messages == episode.transcript.messages([0, 1, 2, 3, 4])
    assert messages[-1] == {
        "role": "user",
        "content": SUMMARY_REQUEST_TEMPLATE.format(question=QUESTION),
    }
    assert "<summary></summary>" in messages[-1]["content"]
    # The next acting turn saw only the system prompt and the state.
    assert steps[6].content == STATE
    assert steps[7].context_steps == (0, 6)
    assert actor.contexts[2] == (
        Purpose.ACT,
        [steps[0].message(), {"role": "user", "content": STATE}],
    )
    assert episode.termination is Termination.ANSWER
    assert episode.answer == "Canberra"
    assert episode.extra == {"summaries": 1}


def test_summary_turn_keeps_its_token_ids_and_is_counted():
    episode, _ = run({Purpose.ACT: [SEARCH, ANSWER], Purpose.SUMMARIZE: [SUMMARY]})
    summary = episode.transcript.of_kind(StepKind.SUMMARY)[0]
    assert summary.role == "assistant"
    assert summary.token_ids == tuple(range(len(SUMMARY.split())))
    assert summary.logprobs == tuple(-0.5 for _ in summary.token_ids)
    assert summary.raw_text == SUMMARY
    assert summary.think == "condense"
    model_steps = [*episode.transcript.turns, summary]
    assert episode.tokens_out == sum(step.completion_tokens for step in model_steps)
    assert episode.turns == 2  # a summary is not an acting turn


def test_turns_after_the_state_are_appended_to_it():
    episode, actor = run({Purpose.ACT: [SEARCH, VISIT, ANSWER], Purpose.SUMMARIZE: [SUMMARY]})
    steps = episode.transcript.steps
    assert [step.kind for step in steps[6:]] == [
        StepKind.STATE,
        StepKind.TURN,
        StepKind.TOOL_RESPONSE,
        StepKind.TURN,
    ]
    assert steps[9].context_steps == (0, 6, 7, 8)
    assert actor.contexts[-1][1] == episode.transcript.messages([0, 6, 7, 8])
    assert "Canberra is the capital." in steps[8].content
    assert episode.extra == {"summaries": 1}


def test_a_second_summary_condenses_the_first_state_and_what_followed():
    second = "<summary>Still Canberra; one more source checked.</summary>"
    episode, actor = run(
        {Purpose.ACT: [SEARCH, SEARCH, ANSWER], Purpose.SUMMARIZE: [SUMMARY, second]}
    )
    requests = episode.transcript.of_kind(StepKind.SUMMARY_REQUEST)
    summaries = episode.transcript.of_kind(StepKind.SUMMARY)
    states = episode.transcript.of_kind(StepKind.STATE)
    assert len(requests) == len(summaries) == len(states) == 2
    first_state = states[0].index
    assert summaries[1].context_steps == (0, first_state, 7, 8, requests[1].index)
    assert actor.contexts[3][0] is Purpose.SUMMARIZE
    assert "Still Canberra; one more source checked." in states[1].content
    assert episode.transcript.turns[-1].context_steps == (0, states[1].index)
    assert episode.extra == {"summaries": 2}


def test_summaries_stop_at_the_cap_and_the_episode_goes_on_as_react():
    paradigm = ReSum(PromptSettings(few_shot=NO_FEW_SHOT), threshold=0.5, max_summaries=1)
    episode, _ = run(
        {Purpose.ACT: [SEARCH, SEARCH, ANSWER], Purpose.SUMMARIZE: [SUMMARY]},
        paradigm=paradigm,
    )
    assert len(episode.transcript.of_kind(StepKind.SUMMARY)) == 1
    assert episode.transcript.turns[-1].context_steps == (0, 6, 7, 8)
    assert episode.termination is Termination.ANSWER
    assert episode.extra == {"summaries": 1}


def test_summary_without_a_block_uses_the_text_outside_think_and_is_flagged():
    bare = "<think>what do I keep</think>\nCanberra is the capital (https://example.org/au)."
    episode, _ = run({Purpose.ACT: [SEARCH, ANSWER], Purpose.SUMMARIZE: [bare]})
    state = episode.transcript.of_kind(StepKind.STATE)[0]
    assert state.content == STATE
    assert episode.extra == {"summaries": 1, "summary_without_block": 1}


def test_an_empty_summary_is_not_used_and_the_context_stays():
    episode, _ = run({Purpose.ACT: [SEARCH, ANSWER], Purpose.SUMMARIZE: ["<think>hmm</think>"]})
    assert episode.transcript.of_kind(StepKind.STATE) == []
    # The request and the failed summary are never shown to an acting turn.
    assert episode.transcript.turns[-1].context_steps == (0, 1, 2, 3)
    assert episode.extra == {"summaries": 0, "summary_without_block": 1, "summary_empty": 1}


def test_resum_answers_where_react_runs_out_of_context():
    turns = [SEARCH, SEARCH, SEARCH, ANSWER]
    react, _ = run(list(turns), paradigm=ReAct(PromptSettings(few_shot=NO_FEW_SHOT)))
    assert react.termination is Termination.CONTEXT_LIMIT
    resum, _ = run({Purpose.ACT: list(turns), Purpose.SUMMARIZE: [SUMMARY] * 3})
    assert resum.termination is Termination.ANSWER
    assert resum.extra == {"summaries": 3}


def test_without_room_for_the_request_the_loop_forces_a_final_answer():
    huge = RecordingTools("word " * 2200)  # the context passes the threshold and nearly fills
    episode, actor = run(
        {Purpose.ACT: [SEARCH], Purpose.FINAL_ANSWER: [ANSWER]},
        tools=huge,
    )
    assert episode.extra == {"summaries": 0, "summary_no_room": 1}
    assert episode.transcript.of_kind(StepKind.SUMMARY_REQUEST) == []
    assert episode.termination is Termination.CONTEXT_LIMIT
    assert episode.answer == "Canberra"
    assert actor.contexts[-1][0] is Purpose.FINAL_ANSWER
    assert episode.transcript.turns[-1].context_steps == (0, 1, 2, 3, 4)


def test_no_summary_after_the_last_turn():
    limits = EpisodeLimits(max_turns=1, max_context_tokens=4000, turn_tokens=256)
    episode, _ = run({Purpose.ACT: [SEARCH], Purpose.SUMMARIZE: [SUMMARY]}, limits=limits)
    assert episode.termination is Termination.MAX_TURNS
    assert episode.transcript.of_kind(StepKind.SUMMARY_REQUEST) == []


def test_extract_summary_takes_the_last_block_outside_think_and_tolerates_truncation():
    text = "<think><summary>draft</summary></think><summary>one</summary><summary>two</summary>"
    assert extract_summary(text) == ("two", True)
    assert extract_summary("<think>x</think><summary>cut off mid") == ("cut off mid", False)
    assert extract_summary("plans</think>state") == ("state", False)


@pytest.mark.parametrize(("threshold", "cap"), [(0.0, 2), (1.0, 2), (0.5, -1)])
def test_settings_are_validated(threshold, cap):
    with pytest.raises(ValueError, match="ReSum"):
        ReSum(threshold=threshold, max_summaries=cap)
