"""Synthesis policies: writers of trajectories that are not sampled from a model.

- `planner`: FAS planning-action synthesis — a plan from the task's spec, executed through
  the real tools (`PlannerPolicy`);
- `reasoning`: FAS reasoning-action synthesis — one reasoning turn over the task's evidence
  passages (`ReasoningPolicy`);
- `has`: HAS — alternative actions branched from a successful planner trajectory
  (`HasExplorer`).

`plan`, `phrasing` and `reading` are their parts: the research plan of a task, the words
of queries and thoughts, and the readers of tool output.
"""

from agents.policies.plan import Plan, Sources, make_plan
from agents.policies.planner import PLANNER_VERSION, PlannerActor, PlannerPolicy, Variation

__all__ = [
    "PLANNER_VERSION",
    "Plan",
    "PlannerActor",
    "PlannerPolicy",
    "Sources",
    "Variation",
    "make_plan",
]
