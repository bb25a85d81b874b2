import asyncio

import pytest

from agents.format import Termination
from agents.paradigms import PARADIGMS, EpisodeLimits, make_paradigm, run_episode
from agents.policy import EpisodeTask, TokenCounter
from agents.tool_runner import ToolRunner
from tests.agents.scripted import RecordingTools, ScriptedActor

# Plain reference-format turns, as a planner writes them: no summary, report or fold.
PLAIN = [
    '<think>s</think><tool_call>{"name": "search", "arguments": {"query": ["q"]}}</tool_call>',
    "<think>done</think><answer>Canberra</answer>",
]


def test_every_paradigm_is_registered_with_its_own_version_and_prompt_hash():
    assert sorted(PARADIGMS) == ["agentfold", "iterresearch", "react", "resum"]
    paradigms = [make_paradigm(name) for name in PARADIGMS]
    assert [p.name for p in paradigms] == list(PARADIGMS)
    assert len({p.version for p in paradigms}) == len(paradigms)
    assert len({p.prompt_hash() for p in paradigms}) == len(paradigms)


def test_an_unknown_paradigm_names_the_known_ones():
    with pytest.raises(ValueError, match="known: agentfold, iterresearch, react, resum"):
        make_paradigm("reflexion")


@pytest.mark.parametrize("name", sorted(PARADIGMS))
def test_every_paradigm_runs_turns_without_its_own_blocks(name):
    episode = asyncio.run(
        run_episode(
            EpisodeTask("qa-1", "What is the capital of Australia?", {}),
            ScriptedActor(list(PLAIN)),
            make_paradigm(name),
            ToolRunner(RecordingTools("Canberra.")),
            TokenCounter(),
            EpisodeLimits(max_turns=3),
        )
    )
    assert episode.termination is Termination.ANSWER
    assert episode.answer == "Canberra"
    assert (episode.tool_calls_valid, episode.tool_calls_invalid) == (1, 0)
