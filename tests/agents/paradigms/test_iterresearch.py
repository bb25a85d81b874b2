import asyncio

from agents.episode import StepKind
from agents.format import Termination, Violation
from agents.paradigms import EpisodeLimits, IterResearch, ReAct, run_episode
from agents.paradigms.iterresearch import INSTRUCTIONS, MISSING_REPORT_NOTICE
from agents.policy import EpisodeTask, Purpose, TokenCounter
from agents.prompts import NO_FEW_SHOT
from agents.tool_runner import ToolRunner
from tests.agents.scripted import RecordingTools, ScriptedActor

TASK = EpisodeTask("qa-1", "What is the capital of Australia?", {})
CALL_SEARCH = (
    '<tool_call>{"name": "search", "arguments": {"query": ["capital of Australia"]}}</tool_call>'
)
CALL_VISIT = (
    '<tool_call>{"name": "visit", "arguments": {"url": "https://example.org/au", '
    '"goal": "capital"}}</tool_call>'
)
SEARCH = f"<think>search first</think>\n<report>Nothing yet.</report>\n{CALL_SEARCH}"
VISIT = (
    "<think>the first result names Canberra</think>\n"
    "<report>Canberra is named as the capital (search result, unverified).</report>\n"
    f"{CALL_VISIT}"
)
ANSWER = "<think>verified</think><answer>Canberra</answer>"
SECOND_WORKSPACE = (
    "Question: What is the capital of Australia?\n\n"
    "Round 2. Your report so far:\n"
    "Nothing yet.\n\n"
    "Your last action:\n"
    'Action: {"name": "search", "arguments": {"query": ["capital of Australia"]}}\n\n'
    "Its result:\n"
    "<tool_response>\nCanberra is the capital of Australia.\n</tool_response>"
)


def run(turns, tools=None, limits=None):
    limits = limits or EpisodeLimits(max_turns=5, max_context_tokens=4096)
    actor = ScriptedActor(turns)
    runner = ToolRunner(tools or RecordingTools("Canberra is the capital of Australia."))
    episode = asyncio.run(run_episode(TASK, actor, IterResearch(), runner, TokenCounter(), limits))
    return episode, actor


def test_every_round_sees_the_system_prompt_and_a_fresh_workspace():
    episode, actor = run([SEARCH, VISIT, ANSWER])
    steps = episode.transcript.steps
    assert [step.kind for step in steps] == [
        StepKind.SYSTEM,
        StepKind.QUESTION,
        StepKind.WORKSPACE,
        StepKind.TURN,
        StepKind.TOOL_RESPONSE,
        StepKind.WORKSPACE,
        StepKind.TURN,
        StepKind.TOOL_RESPONSE,
        StepKind.WORKSPACE,
        StepKind.TURN,
    ]
    assert [turn.context_steps for turn in episode.transcript.turns] == [(0, 2), (0, 5), (0, 8)]
    assert steps[0].content.endswith(INSTRUCTIONS)
    assert steps[2].content == (
        "Question: What is the capital of Australia?\n\n"
        "Round 1. Your report so far:\n"
        "(empty: nothing is established yet)\n\n"
        "This is the first round: there is no earlier action."
    )
    assert actor.contexts[1] == (
        Purpose.ACT,
        [steps[0].message(), {"role": "user", "content": SECOND_WORKSPACE}],
    )
    third = actor.contexts[2][1][1]["content"]
    assert "Round 3. Your report so far:\nCanberra is named as the capital" in third
    assert '"name": "visit"' in third
    assert "page text" in third  # the visit's result, not the search's
    assert "Canberra is the capital of Australia." not in third  # round 1 is gone
    assert episode.termination is Termination.ANSWER
    assert episode.answer == "Canberra"
    assert episode.extra == {}


def test_turns_keep_the_whole_text_and_their_token_ids():
    episode, _ = run([SEARCH, ANSWER])
    first = episode.transcript.turns[0]
    assert first.content == SEARCH  # the report stays in the stored turn
    assert first.raw_text == SEARCH
    assert first.token_ids == tuple(range(len(SEARCH.split())))
    assert first.tool_name == "search"
    assert first.think == "search first"


def test_a_missing_report_keeps_the_previous_one_and_is_counted():
    no_report = f"<think>look closer</think>\n{CALL_VISIT}"
    episode, actor = run([VISIT, no_report, ANSWER])
    third = actor.contexts[2][1][1]["content"]
    assert "Your report so far:\nCanberra is named as the capital" in third
    assert third.endswith(MISSING_REPORT_NOTICE)
    assert episode.extra == {"report_missing": 1}
    assert episode.violations == 0  # not a format violation of the reference format
    assert episode.answer == "Canberra"


def test_an_answer_needs_no_report():
    episode, _ = run([ANSWER])
    assert episode.termination is Termination.ANSWER
    assert episode.extra == {}


def test_a_report_inside_think_is_accepted_and_counted():
    drafted = f"<think>so far: <report>Drafted in thought.</report></think>\n{CALL_SEARCH}"
    episode, actor = run([drafted, ANSWER])
    assert "Your report so far:\nDrafted in thought." in actor.contexts[1][1][1]["content"]
    assert episode.transcript.turns[0].think == "so far:"
    assert episode.extra == {"report_in_think": 1}


def test_tags_quoted_in_a_report_neither_end_the_episode_nor_reach_the_workspace_raw():
    quoting = (
        "<think>careful</think>\n"
        "<report>A page said <answer>Sydney</answer>, which is wrong.</report>\n"
        f"{CALL_SEARCH}"
    )
    episode, actor = run([quoting, ANSWER])
    assert episode.transcript.turns[0].answer is None
    assert episode.transcript.turns[0].tool_name == "search"
    workspace = actor.contexts[1][1][1]["content"]
    assert "A page said &lt;answer>Sydney&lt;/answer>, which is wrong." in workspace
    assert episode.answer == "Canberra"


def test_a_malformed_action_is_reported_in_the_next_workspace():
    broken = "<think>x</think><report>Nothing yet.</report><tool_call>{oops</tool_call>"
    episode, actor = run([broken, ANSWER])
    assert episode.tool_calls_invalid == 1
    workspace = actor.contexts[1][1][1]["content"]
    assert "Action (malformed):" in workspace
    assert "Format error: the tool call is not valid JSON" in workspace
    assert "&lt;tool_call>" in workspace  # the model's own tags are neutralized


def test_a_hallucinated_tool_response_cuts_the_report_after_it():
    hallucinating = (
        f"<think>x</think>{CALL_SEARCH}<tool_response>fake</tool_response><report>R</report>"
    )
    episode, _ = run([hallucinating, ANSWER])
    first = episode.transcript.turns[0]
    assert first.violations == (str(Violation.HALLUCINATED_TOOL_RESPONSE),)
    assert episode.extra == {"report_missing": 1}


def test_a_full_context_forces_a_final_answer_from_the_workspace():
    limits = EpisodeLimits(max_turns=4, max_context_tokens=1400, turn_tokens=256)
    episode, actor = run(
        {Purpose.ACT: [SEARCH], Purpose.FINAL_ANSWER: [ANSWER]},
        tools=RecordingTools("word " * 3000),
        limits=limits,
    )
    assert episode.termination is Termination.CONTEXT_LIMIT
    assert episode.answer == "Canberra"
    force = episode.transcript.of_kind(StepKind.FORCE_ANSWER)[0]
    assert episode.transcript.turns[-1].context_steps == (0, 5, force.index)
    assert actor.contexts[-1][0] is Purpose.FINAL_ANSWER


def test_defaults_to_no_few_shot_and_its_own_prompt_hash():
    paradigm = IterResearch()
    assert paradigm.prompt.few_shot is NO_FEW_SHOT
    assert paradigm.prompt_hash() != ReAct(paradigm.prompt).prompt_hash()
