"""Reasoning-action synthesis (FAS): the answer reasoned out under full information.

The question and every evidence passage of the task (its `evidence_passage_ids`, in an
order shuffled by the seed so position says nothing) go into one user message; the policy
writes one turn whose `<think>` walks through the passages in the order of the task's plan
(agents/policies/plan.py), quoting the sentence that states each fact, does the count or
comparison in words, and ends in `<answer>`. No tools are called.

`run_reasoning` stores it as a normal `Episode` (system prompt, the question-and-passages
step, one TURN), so it goes into the trajectories table like any trajectory (policy
"reasoning"). When a fact is in none of the passages the turn says so and answers that it
could not find the answer, and `notes["failure"]` is `extraction_miss`; an unplannable task
fails with the plan's class, as the planner does.
"""

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.episode import Episode, Message, StepKind, Transcript
from agents.format import Termination, parse_turn
from agents.paradigms.base import add_counted, add_model_step
from agents.policies import phrasing
from agents.policies.plan import Plan, Sources, Target, context_forms, make_plan
from agents.policies.planner import EXTRACTION_MISS, NOT_FOUND_ANSWER
from agents.policies.reading import Found, find_fact
from agents.policy import EpisodeTask, ModelTurn, Purpose, TokenCounter
from lakehouse.ids import sha256_hex
from lakehouse.synthesis.graph import KnowledgeGraph

REASONING_VERSION = "reasoning-1"
REASONING_SYSTEM_PROMPT = (
    "You answer a question using only the passages given with it. First think inside "
    "<think></think>: go through the passages that matter, quote the sentences that state "
    "each fact you use, and do any counting or comparison step by step. Then give the "
    "final answer, short and exact, inside <answer></answer>."
)
PASSAGES_TEMPLATE = "{question}\n\nPassages:\n{passages}"


@dataclass(frozen=True)
class Passage:
    """One evidence passage as the reasoning prompt shows it."""

    passage_id: str
    title: str
    url: str
    text: str


def passages_by_id(frame: Any, descriptions: Mapping[str, str] | None = None) -> dict[str, Passage]:
    """passage id → Passage, from a `passages` table frame (passage_id, title, url, text).

    `descriptions` (url → the page's short description, from `documents`) puts each page's
    description above its passages' text, as the visit tool shows it: facts such as life
    years are stated only there ("Swedish and American actress (1905–1990)")."""
    descriptions = descriptions or {}

    def with_description(url: str, text: str) -> str:
        description = descriptions.get(url)
        return f"{description}\n{text}" if description else text

    return {
        pid: Passage(pid, title or "", url or "", with_description(url or "", text or ""))
        for pid, title, url, text in frame.select("passage_id", "title", "url", "text").iter_rows()
    }


def prompt_hash() -> str:
    """The hash recorded with reasoning trajectories (system prompt and layout)."""
    return sha256_hex(f"{REASONING_VERSION}\n{REASONING_SYSTEM_PROMPT}\n{PASSAGES_TEMPLATE}")


class ReasoningPolicy:
    """One reasoning turn over a task's evidence passages (module docstring)."""

    name = "reasoning"

    def __init__(
        self,
        graph: KnowledgeGraph,
        sources: Sources,
        passages: Mapping[str, Passage],
        seed: int = 0,
    ) -> None:
        self.graph = graph
        self.sources = sources
        self.passages = passages
        self.seed = seed
        self.model = REASONING_VERSION
        self.sampling = {"seed": seed}

    def plan(self, row: Mapping[str, Any]) -> Plan:
        """The task's plan: the facts the reasoning goes through, in order."""
        return make_plan(row, self.graph, self.sources)

    def shown_passages(self, row: Mapping[str, Any], sample: int) -> list[Passage]:
        """The task's evidence passages in the order the prompt shows them (seeded shuffle)."""
        found = [
            self.passages[p] for p in row.get("evidence_passage_ids") or () if p in self.passages
        ]
        random.Random(f"{self.seed + sample}:{row['task_id']}").shuffle(found)
        return found

    def user_message(self, row: Mapping[str, Any], sample: int) -> str:
        """The question with its numbered passages."""
        blocks = [
            f"[{number}] {p.title} ({p.url})\n{p.text}"
            for number, p in enumerate(self.shown_passages(row, sample), start=1)
        ]
        return PASSAGES_TEMPLATE.format(question=row["question"], passages="\n\n".join(blocks))

    def actor(self, task: EpisodeTask, sample: int) -> "ReasoningActor":
        """The actor writing the task's one reasoning turn (sample `i`: seed + i order)."""
        return ReasoningActor(self, task.row, sample)


class ReasoningActor:
    """Writes the one reasoning turn of a task (the Actor interface)."""

    def __init__(self, policy: ReasoningPolicy, row: Mapping[str, Any], sample: int) -> None:
        self.policy = policy
        self.graph = policy.graph
        self.row = row
        self.passages = policy.shown_passages(row, sample)
        self.plan = policy.plan(row)
        self.notes: dict[str, Any] = {"reasoning": REASONING_VERSION, "failure": None}

    async def turn(
        self, messages: list[Message], purpose: Purpose, transcript: Transcript
    ) -> ModelTurn:
        """The reasoning turn (the same whatever the purpose: there is nothing to call)."""
        return ModelTurn(text=self.text(), finish_reason="stop")

    def _locate(self, target: Target) -> tuple[int, Found] | None:
        context = context_forms(target, self.graph)
        for number, passage in enumerate(self.passages, start=1):
            found = find_fact(passage.text, target.forms, context)
            if found is not None and (not context or _names(found, context)):
                return number, found
        for number, passage in enumerate(self.passages, start=1):  # any mention at all
            found = find_fact(passage.text, target.forms)
            if found is not None:
                return number, found
        return None

    def text(self) -> str:
        """The whole turn: thinking through the passages, then the answer."""
        plan = self.plan
        if plan.failure is not None:
            self.notes.update(failure=plan.failure, failure_detail=plan.detail)
            return (
                "<think>I cannot connect these passages to the question step by step.</think>\n"
                f"<answer>{NOT_FOUND_ANSWER}</answer>"
            )
        lines: list[str] = []
        values: dict[str, tuple[float, str]] = {}
        for hop in plan.hops:
            said: list[str] = []
            for target in hop.targets:
                located = self._locate(target)
                if located is None:
                    what = self.graph.name(target.seek) if target.seek else "its value"
                    stated = phrasing.fact_sentence(target, self.graph)
                    self.notes.update(
                        failure=EXTRACTION_MISS,
                        hop=hop.index + 1,
                        failure_detail=f"no passage states {stated}",
                    )
                    lines.append(
                        f"No passage states {phrasing.fact_sentence(target, self.graph)} "
                        f"(I find no mention of {what})."
                    )
                    return self._finish(lines, NOT_FOUND_ANSWER)
                number, found = located
                if target.seek is None and target.number is not None:
                    values[target.subject] = (target.number, found.form)
                written = found.form if target.seek is None else None
                said.append(
                    f'Passage [{number}] says "{found.sentence}", so '
                    f"{phrasing.fact_sentence(target, self.graph, written)}."
                )
            lines.append(" ".join(dict.fromkeys(said)))
        lines.append(self._conclusion(values))
        return self._finish(lines, self._answer())

    def _conclusion(self, values: dict[str, tuple[float, str]]) -> str:
        plan = self.plan
        compute = plan.compute
        if compute is None:
            if plan.excluded:
                left_out = phrasing.join_names([self.graph.name(e) for e in plan.excluded])
                return (
                    f"Leaving out {left_out}, which the question names, the rest make the answer."
                )
            return "That settles it."
        names = [self.graph.name(m) for m in compute.members]
        if compute.op == "count":
            return f"Counting them: {phrasing.join_names(names)} make {len(names)}."
        listed = ", ".join(
            f"{self.graph.name(m)} {values[m][1]}" for m in compute.members if m in values
        )
        extreme = "largest" if compute.op == "argmax" else "smallest"
        winner = phrasing.join_names([self.graph.name(e) for e in plan.answer_entities])
        return f"Comparing {listed}: the {extreme} is {winner}."

    def _answer(self) -> str:
        plan = self.plan
        if plan.answer_type == "set":
            kept = [e for e in plan.answer_entities if e not in plan.excluded]
            return "; ".join(sorted((self.graph.name(e) for e in kept), key=str.casefold))
        if plan.answer_entities:
            return self.graph.name(plan.answer_entities[0])
        return plan.answer

    def _finish(self, lines: list[str], answer: str) -> str:
        think = " ".join(line for line in lines if line)
        return f"<think>{think}</think>\n<answer>{answer}</answer>"


def _names(found: Found, context: tuple[str, ...]) -> bool:
    sentence = found.sentence.casefold()
    return any(form.casefold() in sentence for form in context)


async def run_reasoning(
    task: EpisodeTask, policy: ReasoningPolicy, counter: TokenCounter, sample: int = 0
) -> tuple[Episode, ReasoningActor]:
    """The reasoning trajectory of one task as an Episode (system, question with passages,
    one turn), and its actor (whose `notes` the caller stores with it)."""
    started = time.perf_counter()
    transcript = Transcript()
    add_counted(transcript, counter, "system", StepKind.SYSTEM, REASONING_SYSTEM_PROMPT)
    add_counted(
        transcript, counter, "user", StepKind.QUESTION, policy.user_message(task.row, sample)
    )
    actor = policy.actor(task, sample)
    context = [step.index for step in transcript.steps]
    turn = await actor.turn(transcript.messages(context), Purpose.ACT, transcript)
    parsed = parse_turn(turn.text)
    add_model_step(transcript, StepKind.TURN, turn, parsed, context)
    episode = Episode(
        transcript=transcript,
        termination=Termination.ANSWER if parsed.answer is not None else Termination.ERROR,
        answer=parsed.answer,
        turns=1,
        tool_calls_valid=0,
        tool_calls_invalid=0 if parsed.ok else 1,
        tool_failures=0,
        violations=len(parsed.violations),
        tokens_in=counter.count(transcript.messages(context)),
        tokens_out=counter.count_text(turn.text),
        wall_s=time.perf_counter() - started,
        model_s=0.0,
        tool_s=0.0,
        extra=dict(actor.notes),
    )
    return episode, actor
