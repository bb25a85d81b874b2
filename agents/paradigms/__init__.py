"""Agent paradigms: how the model's context is built from an episode's transcript.

Each paradigm is one module; all share the loop in `base.run_episode` and run with any
policy and backend. `PARADIGMS` maps the names used in configs and trajectory rows.
"""

from agents.paradigms.agentfold import AgentFold
from agents.paradigms.base import EpisodeLimits, Paradigm, PromptSettings, run_episode
from agents.paradigms.iterresearch import IterResearch
from agents.paradigms.react import ReAct
from agents.paradigms.resum import ReSum

PARADIGMS: dict[str, type[Paradigm]] = {
    paradigm.name: paradigm for paradigm in (ReAct, ReSum, IterResearch, AgentFold)
}


def make_paradigm(name: str, prompt: PromptSettings | None = None) -> Paradigm:
    """The paradigm called `name`; an unknown name is an error listing the known ones."""
    if name not in PARADIGMS:
        raise ValueError(f"unknown paradigm {name!r}; known: {', '.join(sorted(PARADIGMS))}")
    return PARADIGMS[name](prompt)


__all__ = [
    "PARADIGMS",
    "AgentFold",
    "EpisodeLimits",
    "IterResearch",
    "Paradigm",
    "PromptSettings",
    "ReAct",
    "ReSum",
    "make_paradigm",
    "run_episode",
]
