"""The planner policy (FAS planning-action synthesis): trajectories that plan, then research
through the real tools, turn by turn.

`PlannerPolicy(graph, sources)` makes one `PlannerActor` per episode. The actor makes the
task's plan (agents/policies/plan.py), states it in its first thinking, and executes it hop
by hop: it searches (queries from phrasing.py), reads the search response the runtime put
in the transcript (the last TOOL_RESPONSE step), picks the result whose URL is a page that
states the hop's facts, visits it with a goal, and checks that each fact is written in the
returned text (reading.py). Counts and superlatives are computed with the python tool;
then it answers. Its thinking quotes what the tools returned and never mentions the graph.

It succeeds only through the tools. Where they do not deliver, the trajectory fails and
says so honestly (a best guess from what it read, or that it could not find the answer),
with the failure class in `notes["failure"]` (the rollout runner copies `notes` into the
episode's `extra`):

- `search_miss`: no page that states the hop's facts is among the results of the hop's
  query and `max_reformulations` reformulations;
- `visit_miss`: the useful page's visit returned no readable text (unknown or blocked URL);
- `extraction_miss`: the visited text does not write one of the hop's facts in any form;
- `compute_error`: the python tool printed something other than the expected result;
- `context_limit`: the paradigm asked for a final answer before the plan was done;
- `unsupported_kind` / `unplannable`: the task could not be planned (plan.py).

`notes["gold_rank"]` lists, search by search, the rank of the useful result (None where it
was missing); `notes["searches"]` and `notes["visits"]` give each call's step index, hop and
details, which HAS (agents/policies/has.py) branches from. The actor also writes ReSum
summaries (Purpose.SUMMARIZE), the forced final answer (Purpose.FINAL_ANSWER), and an
IterResearch `<report>` in every acting turn when the system prompt asks for one.
"""

import json
import random
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from agents.episode import Message, StepKind, Transcript
from agents.policies import phrasing
from agents.policies.plan import Hop, Plan, Sources, Target, context_forms, make_plan
from agents.policies.reading import (
    Found,
    SearchResult,
    find_fact,
    python_output,
    rank_of,
    search_results,
    visited_pages,
)
from agents.policy import EpisodeTask, ModelTurn, Purpose
from evaluation.scoring import normalize_answer
from lakehouse.synthesis.graph import FUNCTIONAL_PROJECTIONS, MENTIONS_PREDICATE, KnowledgeGraph

PLANNER_VERSION = "planner-1"
# Reformulated queries after a search that missed the useful page (the brief: one or two).
DEFAULT_MAX_REFORMULATIONS = 2
NOT_FOUND_ANSWER = "I could not find the answer."
SEARCH_MISS = "search_miss"
VISIT_MISS = "visit_miss"
EXTRACTION_MISS = "extraction_miss"
COMPUTE_ERROR = "compute_error"
CONTEXT_LIMIT = "context_limit"
MAX_QUOTES = 3  # sentences quoted from one page in one turn
REPORT_MARKER = "<report></report>"  # IterResearch's system prompt asks for this block
FOLD_MARKER = "<fold>"  # AgentFold's system prompt asks for a fold directive each turn
CONSOLIDATE_EVERY = 4  # AgentFold: every 4th step folds the whole history into one summary


@dataclass(frozen=True)
class Variation:
    """Other actions (HAS) from hop `hop` on: search `queries[h]` first at hop h, or, at
    hop `hop`, visit the result at rank `distractor` (and find it does not state the fact)
    before the useful one."""

    hop: int
    queries: tuple[tuple[int, str], ...] = ()  # (hop, query) pairs
    distractor: int | None = None

    def query_for(self, hop: int) -> str | None:
        """The query to search first at `hop`, if this variation changes it."""
        return dict(self.queries).get(hop)


@dataclass
class Action:
    """One turn the script writes: its thinking and a tool call or an answer."""

    think: str
    call: dict[str, Any] | None = None
    answer: str | None = None
    record: dict[str, Any] | None = None  # the call's notes entry; its step is set when sent


@dataclass
class _Reading:
    """What a hop established: the text for the next thinking, or why it failed."""

    lead: str
    failure: str | None = None
    detail: str | None = None


@dataclass
class _State:
    """What the actor has verified so far (for summaries, reports and a best guess)."""

    facts: list[tuple[str, str]] = field(default_factory=list)  # (sentence, source url)
    confirmed: set[str] = field(default_factory=set)  # entities whose facts were read
    values: dict[str, tuple[float, str]] = field(default_factory=dict)  # entity → number
    done: set[str] = field(default_factory=set)  # relation ids (or entity:predicate) read


class PlannerPolicy:
    """Planner trajectories for qa_tasks rows (see the module docstring)."""

    name = "planner"

    def __init__(
        self,
        graph: KnowledgeGraph,
        sources: Sources,
        seed: int = 0,
        max_reformulations: int = DEFAULT_MAX_REFORMULATIONS,
        use_python: bool = True,
    ) -> None:
        self.graph = graph
        self.sources = sources
        self.seed = seed
        self.max_reformulations = max_reformulations
        self.use_python = use_python
        self.model = PLANNER_VERSION
        self.sampling = {
            "seed": seed,
            "max_reformulations": max_reformulations,
            "use_python": use_python,
        }
        self._plans: dict[str, Plan] = {}

    def plan(self, row: dict[str, Any]) -> Plan:
        """The plan of a task row (made once per task)."""
        task_id = row["task_id"]
        if task_id not in self._plans:
            self._plans[task_id] = make_plan(row, self.graph, self.sources)
        return self._plans[task_id]

    def actor(
        self, task: EpisodeTask, sample: int, variation: Variation | None = None
    ) -> "PlannerActor":
        """The actor of one episode; sample `i` phrases its queries with seed + i."""
        return PlannerActor(self, self.plan(task.row), self.seed + sample, variation)


class PlannerActor:
    """Writes one planner trajectory, one turn per call (the module docstring)."""

    def __init__(
        self, policy: PlannerPolicy, plan: Plan, seed: int, variation: Variation | None = None
    ) -> None:
        self.policy = policy
        self.graph = policy.graph
        self.sources = policy.sources
        self.plan = plan
        self.seed = seed
        self.variation = variation
        self.rng = random.Random(f"{seed}:{plan.task_id}")
        self.state = _State()
        self.notes: dict[str, Any] = {
            "planner": PLANNER_VERSION,
            "seed": seed,
            "plan_hops": len(plan.hops),
            "failure": None,
            "gold_rank": [],
            "searches": [],
            "visits": [],
        }
        self._script = self._run()
        self._started = False
        self._seen_response = -1  # index of the last tool response the script has read
        self._pending: Action | None = None  # the script's next action, made early
        self._next_step = "start the research"
        self._report = False
        self._fold = False
        self._findings: list[str] = []  # what each finished step (call + response) found

    # -- the Actor interface ------------------------------------------------------------

    async def turn(
        self, messages: list[Message], purpose: Purpose, transcript: Transcript
    ) -> ModelTurn:
        """The next turn: an acting turn of the script, a summary, or the final answer."""
        if not self._started and messages and messages[0]["role"] == "system":
            self._report = REPORT_MARKER in messages[0]["content"]
            self._fold = FOLD_MARKER in messages[0]["content"]
        if purpose is Purpose.SUMMARIZE:
            self._advance(transcript)
            return _turn(self._summary())
        if purpose is Purpose.FINAL_ANSWER:
            action = self._advance(transcript)
            self._pending = None
            if action is None or action.answer is None:
                self._fail(CONTEXT_LIMIT, None, "the context filled before the plan was done")
                action = self._give_up(
                    "The context is full, so I have to answer with what I have verified."
                )
            return _turn(self._render(action, with_report=False))
        action = self._advance(transcript)
        self._pending = None
        if action is not None and action.record is not None:
            action.record["step"] = len(transcript.steps)  # the index this turn will get
        if action is None:  # the script is over but the episode goes on: answer again
            action = Action(
                think="I have already given my answer.",
                answer=self.notes.get("answer") or NOT_FOUND_ANSWER,
            )
        self._next_step = _next_step_text(action)
        steps = len(transcript.of_kind(StepKind.TOOL_RESPONSE)) if self._fold else 0
        return _turn(self._render(action, with_report=self._report, fold_steps=steps))

    def _advance(self, transcript: Transcript) -> Action | None:
        """The script's next action, feeding it the tool response it has not read yet."""
        if self._pending is not None:
            return self._pending
        responses = transcript.of_kind(StepKind.TOOL_RESPONSE)
        try:
            if not self._started:
                self._started = True
                action = next(self._script)
            else:
                latest = responses[-1] if responses else None
                fresh = latest is not None and latest.index > self._seen_response
                observation = latest.content if fresh else ""
                if latest is not None:
                    self._seen_response = latest.index
                action = self._script.send(observation)
        except StopIteration:
            return None
        self._pending = action
        return action

    # -- rendering ---------------------------------------------------------------------

    def _render(self, action: Action, with_report: bool, fold_steps: int = 0) -> str:
        text = f"<think>{action.think}</think>\n"
        if with_report and action.answer is None:
            text += f"<report>\n{self._report_text()}\n</report>\n"
        if fold_steps and action.answer is None:
            text += f"<fold>{self._fold_directive(fold_steps)}</fold>\n"
        if action.answer is not None:
            self.notes["answer"] = action.answer
            return text + f"<answer>{action.answer}</answer>"
        call = json.dumps(action.call, ensure_ascii=False)
        return text + f"<tool_call>{call}</tool_call>"

    def _fold_directive(self, steps: int) -> str:
        """AgentFold: condense the latest step, or every `CONSOLIDATE_EVERY` steps fold the
        whole history into the verified facts and the latest finding."""
        latest = self._findings[steps - 1] if steps <= len(self._findings) else "step done"
        if steps > 1 and steps % CONSOLIDATE_EVERY == 0:
            facts = "; ".join(f"{sentence} ({url})" for sentence, url in self.state.facts)
            summary = f"Verified so far: {facts or 'nothing yet'}. Latest: {latest}"
            return json.dumps({"range": [1, steps], "summary": summary}, ensure_ascii=False)
        return json.dumps({"range": [steps, steps], "summary": latest}, ensure_ascii=False)

    def _found(self, finding: str) -> None:
        """Record what the step just read found (AgentFold summaries)."""
        self._findings.append(finding)

    def _verified_lines(self) -> list[str]:
        return [f"- {sentence} (source: {url})" for sentence, url in self.state.facts]

    def _summary(self) -> str:
        facts = self._verified_lines() or ["- nothing verified yet"]
        return (
            "<think>I will condense what I have verified so far.</think>\n<summary>\n"
            "Verified facts:\n" + "\n".join(facts) + "\n"
            f"Open leads: {self._open_leads()}\n"
            f"Next steps: {self._next_step_after_pending()}\n</summary>"
        )

    def _report_text(self) -> str:
        facts = self._verified_lines() or ["- nothing established yet"]
        return "Established:\n" + "\n".join(facts) + f"\nStill open: {self._open_leads()}"

    def _open_leads(self) -> str:
        left = [hop for hop in self.plan.hops if not all(self._target_done(t) for t in hop.targets)]
        if not left:
            return "none; the facts needed for the answer are established."
        goals = [phrasing.goal(hop, self.graph, None, self.plan.phrases) for hop in left[:3]]
        more = f" and {len(left) - 3} more look-ups" if len(left) > 3 else ""
        return "; ".join(goals) + more + "."

    def _target_done(self, target: Target) -> bool:
        key = target.relation_id or f"{target.subject}:{target.predicate}"
        return key in self.state.done

    def _next_step_after_pending(self) -> str:
        return _next_step_text(self._pending) if self._pending else self._next_step

    # -- the script --------------------------------------------------------------------

    def _run(self) -> Generator[Action, str, None]:
        plan = self.plan
        if plan.failure is not None:
            self._fail(plan.failure, None, plan.detail)
            yield Action(
                think=(
                    "I cannot see how to research this question step by step with search "
                    "and page visits, so I cannot give a reliable answer."
                ),
                answer=NOT_FOUND_ANSWER,
            )
            return
        lead = self._opening()
        for hop in plan.hops:
            reading = yield from self._hop(hop, lead)
            if reading.failure is not None:
                self._fail(reading.failure, hop.index + 1, reading.detail)
                yield self._give_up(reading.lead)
                return
            lead = reading.lead
        if plan.compute is not None:
            reading = yield from self._compute(lead)
            if reading.failure is not None:
                self._fail(reading.failure, None, reading.detail)
                yield self._give_up(reading.lead)
                return
            lead = reading.lead
        yield self._answer(lead)

    def _opening(self) -> str:
        steps = phrasing.plan_steps(self.plan, self.graph)
        numbered = "; ".join(f"({i}) {step}" for i, step in enumerate(steps, start=1))
        opener = phrasing.pick(
            (
                "Let me break this question into look-ups.",
                "I will answer this step by step.",
                "This needs a few facts found in order.",
            ),
            self.rng,
        )
        return f"{opener} Plan: {numbered}."

    def _hop(self, hop: Hop, lead: str) -> Generator[Action, str, _Reading]:
        """Search (with reformulations), pick the useful result, visit it, check the facts."""
        urls = self.sources.urls(hop.docs)
        goal = phrasing.goal(hop, self.graph, self._final_phrase(), self.plan.phrases)
        chosen: SearchResult | None = None
        results: list[SearchResult] = []
        if hop.given_url is not None:
            page = phrasing.page_ref(self._anchor_name(hop))
            think = f"{lead} The question gives the address of {page}, so I will open it directly."
            url, title = hop.given_url, self._anchor_name(hop)
        else:
            queries = phrasing.hop_queries(hop, self.graph, self.seed)
            variation = self.variation
            first = variation.query_for(hop.index) if variation else None
            if first:
                queries = [first, *(q for q in queries if q != first)]
            for attempt, query in enumerate(queries[: 1 + self.policy.max_reformulations]):
                intro = self._search_intro(hop, attempt, query)
                record = {"step": None, "hop": hop.index, "attempt": attempt, "query": query}
                observation = yield Action(
                    think=f"{lead} {intro}".strip(),
                    call={"name": "search", "arguments": {"query": [query]}},
                    record=record,
                )
                blocks = search_results(observation)
                results = blocks[0] if blocks else []
                chosen = rank_of(results, urls)
                rank = chosen.rank if chosen else None
                self.notes["gold_rank"].append(rank)
                record.update(gold_rank=rank, results=len(results))
                self.notes["searches"].append(record)
                self._found(
                    f"Searched {query!r}: result {chosen.rank} is {chosen.title} ({chosen.url})."
                    if chosen
                    else f"Searched {query!r}: no page that states it."
                )
                if chosen is not None:
                    break
                lead = self._miss_text(hop, results)
            if chosen is None:
                tried = len(self.notes["searches"]) and sum(
                    1 for s in self.notes["searches"] if s["hop"] == hop.index
                )
                return _Reading(
                    lead=(
                        f"{lead} After {tried} searches I still have no page that states {goal}."
                    ),
                    failure=SEARCH_MISS,
                    detail=f"no page stating {goal} in the results",
                )
            url, title = chosen.url, chosen.title
            think = self._pick_text(hop, chosen, results, goal)
            if variation and variation.hop == hop.index and variation.distractor is not None:
                think = yield from self._distractor(hop, chosen, results, variation, goal)
        record = {
            "step": None,
            "hop": hop.index,
            "url": url,
            "rank": chosen.rank if chosen else None,
        }
        observation = yield Action(
            think=think,
            call={"name": "visit", "arguments": {"url": url, "goal": goal}},
            record=record,
        )
        self.notes["visits"].append(record)
        pages = visited_pages(observation)
        page = pages[0] if pages else None
        if page is None or not page.available or not page.text:
            self._found(f"Visited {url}: the page could not be read.")
            return _Reading(
                lead=(
                    f"{phrasing.upper_first(phrasing.page_ref(title))} could not be read, so I "
                    f"cannot check {goal}."
                ),
                failure=VISIT_MISS,
                detail=f"visit of {url} returned no page text",
            )
        return self._check(hop, page.text, page.title or title, url)

    def _anchor_name(self, hop: Hop) -> str:
        return self.graph.name(hop.anchor)

    def _final_phrase(self) -> str | None:
        answers = self.plan.answer_entities
        return self.plan.phrases.get(answers[0]) if answers else None

    def _search_intro(self, hop: Hop, attempt: int, query: str) -> str:
        goal = phrasing.goal(hop, self.graph, self._final_phrase(), self.plan.phrases)
        alias = phrasing.other_name(self.graph, hop.anchor)
        if attempt > 0 and alias and alias in query:
            return f"{self.graph.name(hop.anchor)} is also called {alias}; I search by that name."
        if attempt > 0:
            return phrasing.pick(
                (f"I will rephrase the search for {goal}.", f"Another search for {goal}."),
                self.rng,
            )
        if hop.index == 0:
            return phrasing.pick(
                (f"First I search for {goal}.", f"To start, I look for {goal}."), self.rng
            )
        return phrasing.pick(
            (f"Next I need {goal}.", f"Now I search for {goal}.", f"Next: {goal}."), self.rng
        )

    def _miss_text(self, hop: Hop, results: list[SearchResult]) -> str:
        if not results:
            return "The search found nothing."
        titles = phrasing.join_names([r.title for r in results[:3]])
        return phrasing.pick(
            (
                f"The results ({titles}, …) do not include a page that states it.",
                f"None of these results ({titles}, …) looks like the page I need.",
            ),
            self.rng,
        )

    def _pick_text(
        self, hop: Hop, chosen: SearchResult, results: list[SearchResult], goal: str
    ) -> str:
        where = f"result {chosen.rank}, [{chosen.title}]({chosen.url})"
        if chosen.rank == 1:
            head = phrasing.pick(
                (
                    f"The first result, [{chosen.title}]({chosen.url}),",
                    f"The top result, {chosen.title},",
                ),
                self.rng,
            )
            return f"{head} should state {goal}. I will read it."
        top = results[0].title if results else ""
        return phrasing.pick(
            (
                f"The top result is {top}, but {where} is the page that should state {goal}. "
                "I will read it.",
                f"Among the results, {where} looks like the right page for {goal}; {top} at "
                "the top is less specific. Let me open it.",
            ),
            self.rng,
        )

    def _distractor(
        self,
        hop: Hop,
        chosen: SearchResult,
        results: list[SearchResult],
        variation: Variation,
        goal: str,
    ) -> Generator[Action, str, str]:
        """HAS: visit another result first, see it lacks the fact, then turn to the right one."""
        other = next((r for r in results if r.rank == variation.distractor), None)
        if other is None or other.rank == chosen.rank:
            return self._pick_text(hop, chosen, results, goal)
        record = {"step": None, "hop": hop.index, "url": other.url, "rank": other.rank}
        observation = yield Action(
            think=(
                f"Result {other.rank}, [{other.title}]({other.url}), may state {goal}. "
                "I will read it first."
            ),
            call={"name": "visit", "arguments": {"url": other.url, "goal": goal}},
            record=record,
        )
        record["distractor"] = True
        self.notes["visits"].append(record)
        pages = visited_pages(observation)
        text = pages[0].text if pages and pages[0].available else ""
        missing = [t for t in hop.targets if self._find(t, text) is None]
        self.notes["distractor_lacked_fact"] = bool(missing)
        self._found(f"Visited {other.url}: it does not state {goal}.")
        return (
            f"{phrasing.upper_first(phrasing.page_ref(other.title))} does not state {goal}. "
            f"Result {chosen.rank}, [{chosen.title}]({chosen.url}), should; I will read it."
        )

    def _find(self, target: Target, text: str) -> Found | None:
        return find_fact(text, target.forms, context_forms(target, self.graph))

    def _check(self, hop: Hop, text: str, title: str, url: str) -> _Reading:
        """Confirm every target of the hop in the page text; the thinking that follows."""
        found: list[tuple[Target, Found]] = []
        missing: list[Target] = []
        for target in hop.targets:
            where = self._find(target, text)
            if where is None:
                missing.append(target)
            else:
                found.append((target, where))
        self.notes["visits"][-1]["confirmed"] = len(found)
        if missing:
            lacking = missing[0]
            what = (
                self.graph.name(lacking.seek)
                if lacking.seek
                else f"the {phrasing.attribute_words(lacking.predicate)}"
            )
            for target, where in found:
                self._record(target, where.form, url)
            self._found(f"Visited {url}: it does not mention {what}.")
            return _Reading(
                lead=(
                    f"{phrasing.upper_first(phrasing.page_ref(title))} does not mention {what}, "
                    "so I "
                    f"cannot confirm that {phrasing.fact_sentence(lacking, self.graph)}."
                ),
                failure=EXTRACTION_MISS,
                detail=f"{url} lacks {what} ({len(missing)} of {len(hop.targets)} facts missing)",
            )
        quotes = list(dict.fromkeys(where.sentence for _, where in found))[:MAX_QUOTES]
        said = " ".join(f'"{quote}"' for quote in quotes)
        sentences = phrasing.group_sentences([t for t, _ in found], self.graph, hop.anchor)
        for target, where in found:
            self._record(target, where.form, url)
            if target.seek is None or target.relation_id is None:
                sentences.append(phrasing.fact_sentence(target, self.graph, where.form))
            elif target.predicate == MENTIONS_PREDICATE:
                sentences.append(phrasing.fact_sentence(target, self.graph))
        conclusion = "; ".join(dict.fromkeys(sentences))
        lead = f"{phrasing.upper_first(phrasing.page_ref(title))} says: {said} So {conclusion}."
        self._found(f"Visited {url}: {conclusion}.")
        notes = self._condition_notes(hop, [t for t, _ in found])
        return _Reading(lead=f"{lead} {notes}".strip())

    def _condition_notes(self, hop: Hop, targets: list[Target]) -> str:
        """Remarks tying what was read to the question's obfuscated phrases, and marking an
        entity picked from a list as a candidate the later steps check."""
        remarks = []
        first = hop.targets[0]
        direction = "objects" if first.seek == first.obj else "subjects"
        picked = len(hop.finds) == 1 and first.seek in hop.finds
        more = hop.index + 1 < len(self.plan.hops)
        if picked and first.predicate == MENTIONS_PREDICATE:
            remarks.append(f"I follow the link to {self.graph.name(first.seek)}.")
        elif picked and more and (first.predicate, direction) not in FUNCTIONAL_PROJECTIONS:
            remarks.append(
                f"{self.graph.name(first.seek)} is the candidate I check against the rest."
            )
        for target in targets:
            subject = target.subject
            if target.seek is None and subject in self.plan.phrases:
                remarks.append(f"That fits {self.plan.phrases[subject]}.")
        for entity in hop.finds:
            phrase = self.plan.phrases.get(entity)
            if phrase and not any(t.seek is None and t.subject == entity for t in targets):
                prefix = _name_prefix(phrase)
                if prefix and self.graph.name(entity).startswith(prefix):
                    remarks.append(
                        f"{self.graph.name(entity)} begins with '{prefix}', as the question says."
                    )
                elif hop.kind != "identify":
                    remarks.append(f"{self.graph.name(entity)} may be {phrase}.")
        return " ".join(dict.fromkeys(remarks))

    def _record(self, target: Target, written: str, url: str) -> None:
        self.state.facts.append((phrasing.fact_sentence(target, self.graph, written), url))
        self.state.done.add(target.relation_id or f"{target.subject}:{target.predicate}")
        self.state.confirmed |= {e for e in (target.subject, target.obj) if e}
        if target.seek is None and target.number is not None:
            self.state.values[target.subject] = (target.number, written)

    def _compute(self, lead: str) -> Generator[Action, str, _Reading]:
        """Count the members or pick the extreme one, with the python tool (or in words)."""
        compute = self.plan.compute
        assert compute is not None
        names = [self.graph.name(m) for m in compute.members]
        expected = self.plan.answer
        if compute.op == "count":
            variable = phrasing.noun(self.graph.types.get(compute.members[0]), plural=True)
            variable = "".join(c if c.isalnum() else "_" for c in variable.lower())
            code = f"{variable} = {json.dumps(names, ensure_ascii=False)}\nprint(len({variable}))"
            intro = f"There are {len(names)} of them; I count them with Python to be sure."
        else:
            missing = [m for m in compute.members if m not in self.state.values]
            if missing:
                return _Reading(
                    lead=f"{lead} I lack the value for {self.graph.name(missing[0])}.",
                    failure=COMPUTE_ERROR,
                    detail="a member's value was not read",
                )
            values = {
                self.graph.name(m): _plain_number(self.state.values[m][0]) for m in compute.members
            }
            expected = phrasing.join_names([self.graph.name(e) for e in self.plan.answer_entities])
            variable = "".join(c if c.isalnum() else "_" for c in (compute.attribute or "value"))
            pick = "max" if compute.op == "argmax" else "min"
            body = ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {v}" for k, v in values.items())
            code = f"{variable} = {{{body}}}\nprint({pick}({variable}, key={variable}.get))"
            largest = "largest" if compute.op == "argmax" else "smallest"
            intro = f"Now I compare the values with Python to find the {largest}."
        if not self.policy.use_python:
            return _Reading(lead=f"{lead} {self._compute_in_words(expected)}")
        observation = yield Action(
            think=f"{lead} {intro}", call={"name": "python", "arguments": {"code": code}}
        )
        printed = python_output(observation)
        self._found(f"Python printed {printed}.")
        if normalize_answer(printed) != normalize_answer(expected):
            return _Reading(
                lead=f"The code printed {printed!r}, which I did not expect; I cannot rely on it.",
                failure=COMPUTE_ERROR,
                detail=f"python printed {printed!r}, expected {expected!r}",
            )
        return _Reading(lead=f"The code prints {printed}.")

    def _compute_in_words(self, expected: str) -> str:
        compute = self.plan.compute
        assert compute is not None
        if compute.op == "count":
            return f"Counting them gives {expected}."
        values = ", ".join(
            f"{self.graph.name(m)} {self.state.values[m][1]}" for m in compute.members
        )
        return f"Comparing {values}: {expected}."

    def _answer(self, lead: str) -> Action:
        plan = self.plan
        if plan.answer_type == "set":
            kept = [e for e in plan.answer_entities if e not in plan.excluded]
            names = sorted((self.graph.name(e) for e in kept), key=str.casefold)
            answer = "; ".join(names)
            closing = f"So the answer is {phrasing.join_names(names)}."
            if plan.excluded:
                left_out = phrasing.join_names([self.graph.name(e) for e in plan.excluded])
                closing = f"Leaving out {left_out}, the others are {phrasing.join_names(names)}."
        elif plan.answer_entities:
            answer = self.graph.name(plan.answer_entities[0])
            closing = f"So the answer is {answer}."
        else:
            answer = plan.answer
            closing = f"So the answer is {answer}."
        return Action(think=f"{lead} {closing}", answer=answer)

    def _best_guess(self) -> str | None:
        plan = self.plan
        confirmed = [e for e in plan.answer_entities if e in self.state.confirmed]
        if plan.answer_type == "set":
            kept = [e for e in confirmed if e not in plan.excluded]
            return "; ".join(sorted(self.graph.name(e) for e in kept)) or None
        if plan.answer_entities and confirmed:
            return self.graph.name(confirmed[0])
        return None

    def _give_up(self, lead: str) -> Action:
        guess = self._best_guess()
        if guess is None:
            return Action(
                think=f"{lead} I could not find what I need, so I cannot give a reliable answer.",
                answer=NOT_FOUND_ANSWER,
            )
        return Action(
            think=(
                f"{lead} I could not verify everything; my best guess from what I read is {guess}."
            ),
            answer=guess,
        )

    def _fail(self, failure: str, hop: int | None, detail: str | None) -> None:
        if self.notes["failure"] is None:
            self.notes["failure"] = failure
            self.notes["hop"] = hop
            self.notes["failure_detail"] = detail


def _turn(text: str) -> ModelTurn:
    return ModelTurn(text=text, finish_reason="stop")


def _plain_number(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def _name_prefix(phrase: str) -> str | None:
    marker = "begins with '"
    if marker not in phrase:
        return None
    return phrase.split(marker, 1)[1].split("'", 1)[0]


def _next_step_text(action: Action | None) -> str:
    if action is None:
        return "give the answer"
    if action.answer is not None:
        return f"give the answer: {action.answer}"
    call = action.call or {}
    arguments = call.get("arguments", {})
    if call.get("name") == "search":
        return f"search for {'; '.join(arguments.get('query', []))}"
    if call.get("name") == "visit":
        return f"read {arguments.get('url')} for {arguments.get('goal')}"
    return "compute the result with Python"
