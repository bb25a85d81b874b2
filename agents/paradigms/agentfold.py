"""AgentFold (Ye et al. 2025, "AgentFold: Long-Horizon Web Agents with Proactive Context
Management"): the model manages its own context by folding its history, a step at a time or
several steps into one summary, and sees the latest step in full.

Steps. A step is one finished interaction: a model turn and the tool response it got,
numbered from 1 in order (`[Step 3]`). While the model writes turn N+1 it sees steps 1..N:
step N in full (thinking, action, observation) and steps 1..N-1 folded.

Folding. With each turn (think → fold → action, the paper's order) the model may write
`<fold>{"range": [k, t], "summary": "..."}</fold>`, 1 ≤ k ≤ t ≤ N: steps k..t are shown from
then on as that one summary (`[Steps k-t] …`, or `[Step t] …` for a single step). [N, N]
condenses the latest step; a smaller k merges it with earlier steps and summaries (the
paper's granular condensation and deep consolidation). A fold may enclose earlier folds
(they are replaced) but not cut through one. A step nobody folded is shown compactly: its
action and the first `COMPACT_OBSERVATION_CHARS` of its observation.

Malformed directives — bad JSON, not {"range": [k, t], "summary": str}, an empty summary,
k > t, a range out of 1..N, a range cutting through an earlier fold — are ignored, counted in
`stats.notes` (`folds_ignored`, with the reasons in `fold_ignored_reasons`) and named to the
model in its next context; they never break the episode. A `<fold>` inside <think> is a
draft and is ignored (`fold_in_think`). Accepted directives count as `folds`.

Context: [system (with `INSTRUCTIONS`), few-shot… (none by default: the shared few-shot is
ReAct-format), FOLDED], a new FOLDED step written for every turn (the first by `begin`, the
next after each tool response). The fold state is not kept anywhere but the transcript: it is
replayed from the turns' kept content, so one paradigm object serves concurrent episodes.
Model-written text (summaries, thinking) is neutralized (format.neutralize_tags) before it
goes into the user message, as tool output is.
"""

from dataclasses import dataclass

from agents.episode import Step, StepKind, Transcript
from agents.format import (
    TOOL_RESPONSE_CLOSE,
    TOOL_RESPONSE_OPEN,
    ParsedTurn,
    json_type_name,
    loads_lenient,
    neutralize_tags,
    render_tool_response,
)
from agents.paradigms.base import (
    EpisodeStats,
    RebuiltContext,
    question_of,
    render_step_for_history,
)
from agents.paradigms.blocks import find_blocks, parse_tagged_turn
from agents.prompts import NO_FEW_SHOT

FOLD_TAG = "fold"
# About 200 tokens of an unfolded step's observation: enough to recall what the step found;
# a model that needs more keeps it by folding the step with a summary.
COMPACT_OBSERVATION_CHARS = 800

INSTRUCTIONS = """# Folding your history

Your history is shown folded. A step is one action with its result, numbered from 1 \
([Step 3]). The latest step is shown in full; earlier steps appear as the summaries you wrote \
for them ([Steps 2-4] ...) or, where you did not fold them, shortened. In each turn, after \
thinking and before your action, fold your history with one directive:
<fold>{"range": [k, t], "summary": "..."}</fold>
It replaces steps k to t (inclusive; t at most the latest step's number) by your summary. Use \
[t, t] with t the latest step to condense just that step, or a smaller k to merge it with the \
earlier steps and summaries into one. A range may enclose earlier folds but must not cut \
through one. Folded steps are not shown again, so keep in the summary every fact you may still \
need, with its source. Before the first step there is nothing to fold."""

FOLDED_TEMPLATE = "Question: {question}\n\n{history}"
FIRST_STEP = "No steps yet: this turn is step 1."
HISTORY_TEMPLATE = """Folded history:
{entries}

Latest step, in full:
{latest}

This turn is step {next}."""
NO_EARLIER_STEPS = "(none: the latest step is the first)"
IGNORED_NOTICE = "Your fold directive in step {step} was ignored: {reason}."


@dataclass(frozen=True)
class Fold:
    """Steps `first`..`last` (1-based, inclusive) shown as one summary."""

    first: int
    last: int
    summary: str


class AgentFold(RebuiltContext):
    """The question, the folded history and the latest step in full, rebuilt every turn."""

    name = "agentfold"
    version = "agentfold-1"
    instructions = INSTRUCTIONS
    templates = (FOLDED_TEMPLATE, FIRST_STEP, HISTORY_TEMPLATE, NO_EARLIER_STEPS, IGNORED_NOTICE)
    default_few_shot = NO_FEW_SHOT
    memory_kind = StepKind.FOLDED

    def render_memory(self, transcript: Transcript) -> str:
        """The next folded history: question, fold summaries, the latest step in full."""
        return folded_text(transcript)

    def parse(self, text: str) -> tuple[ParsedTurn, dict]:
        """The turn without its fold directives, in the reference format, and the bodies of
        the directives it wrote outside <think>."""
        tagged = parse_tagged_turn(text, FOLD_TAG)
        return tagged.parsed, {"folds": tagged.outside, "folds_in_think": len(tagged.in_think)}

    def after_turn(
        self, transcript: Transcript, step: Step, blocks: dict, stats: EpisodeStats
    ) -> None:
        """Count the turn's accepted and ignored directives (an answer's are moot)."""
        if step.answer is not None:
            return
        for _ in range(blocks["folds_in_think"]):
            stats.bump("fold_in_think")
        done = interactions(transcript)  # this turn has no response yet
        folds, _ = replay_folds(done)
        _, ignored = apply_directives(folds, blocks["folds"], latest=len(done))
        for _ in range(len(blocks["folds"]) - len(ignored)):
            stats.bump("folds")
        for reason in ignored:
            stats.bump("folds_ignored")
            stats.notes.setdefault("fold_ignored_reasons", []).append(
                {"step": step.index, "reason": reason}
            )


def interactions(transcript: Transcript) -> list[tuple[Step, Step]]:
    """The finished steps: (model turn, the tool response it got), in order; step n is
    element n-1."""
    done: list[tuple[Step, Step]] = []
    turn: Step | None = None
    for step in transcript.steps:
        if step.kind is StepKind.TURN:
            turn = step
        elif step.kind is StepKind.TOOL_RESPONSE and turn is not None:
            done.append((turn, step))
            turn = None
    return done


def fold_bodies(turn: Step) -> tuple[str, ...]:
    """The fold directives a stored turn wrote outside <think> (from its kept content)."""
    outside, _, _ = find_blocks(turn.content, FOLD_TAG)
    return outside


def replay_folds(done: list[tuple[Step, Step]]) -> tuple[list[Fold], list[str]]:
    """The folds in force after the finished steps `done`, and why the directives of the
    last one were ignored (the turn of step n could fold steps 1..n-1)."""
    folds: list[Fold] = []
    ignored: list[str] = []
    for number, (turn, _) in enumerate(done, start=1):
        folds, ignored = apply_directives(folds, fold_bodies(turn), latest=number - 1)
    return folds, ignored


def apply_directives(
    folds: list[Fold], bodies: tuple[str, ...], latest: int
) -> tuple[list[Fold], list[str]]:
    """`folds` with each directive applied in order, and the reasons of those ignored;
    `latest` is the number of the latest step the writing turn saw."""
    ignored: list[str] = []
    for body in bodies:
        fold, reason = parse_directive(body, latest)
        if fold is not None:
            reason = _cut_fold(fold, folds)
        if fold is None or reason is not None:
            ignored.append(reason or "the directive could not be read")
            continue
        kept = [f for f in folds if not fold.first <= f.first <= f.last <= fold.last]
        folds = sorted([*kept, fold], key=lambda f: f.first)
    return folds, ignored


def parse_directive(body: str, latest: int) -> tuple[Fold | None, str | None]:
    """The fold a directive asks for, or why it cannot be applied (steps 1..`latest` exist)."""
    value, problem = loads_lenient(body)
    if problem is not None:
        return None, f"the directive is not valid JSON ({problem})"
    if not isinstance(value, dict):
        return None, f"the directive must be a JSON object, not {json_type_name(value)}"
    bounds, summary = value.get("range"), value.get("summary")
    if not (
        isinstance(bounds, list)
        and len(bounds) == 2
        and all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
    ):
        return None, 'the directive needs "range": [k, t] with two step numbers'
    if not isinstance(summary, str) or not summary.strip():
        return None, 'the directive needs a non-empty "summary" string'
    first, last = bounds
    if latest == 0:
        return None, "there is no finished step to fold yet"
    if first > last:
        return None, f"the range [{first}, {last}] starts after it ends"
    if first < 1 or last > latest:
        return None, f"the range [{first}, {last}] is outside steps 1-{latest}"
    return Fold(first, last, summary.strip()), None


def _cut_fold(fold: Fold, folds: list[Fold]) -> str | None:
    """Why `fold` cannot be applied over `folds` (it cuts through one), or None."""
    for other in folds:
        disjoint = other.last < fold.first or other.first > fold.last
        enclosed = fold.first <= other.first and other.last <= fold.last
        if not disjoint and not enclosed:
            return (
                f"the range [{fold.first}, {fold.last}] cuts through the earlier fold "
                f"[{other.first}, {other.last}]"
            )
    return None


def folded_text(transcript: Transcript) -> str:
    """The FOLDED message of the next turn: the question, the folded steps before the latest,
    the latest step in full, and why the latest turn's directives were ignored, if they were."""
    question = question_of(transcript)
    done = interactions(transcript)
    if not done:
        return FOLDED_TEMPLATE.format(question=question, history=FIRST_STEP)
    folds, ignored = replay_folds(done)
    starts = {fold.first: fold for fold in folds}
    entries: list[str] = []
    number = 1
    while number < len(done):
        if number in starts:
            fold = starts[number]
            label = (
                f"Step {fold.first}"
                if fold.first == fold.last
                else f"Steps {fold.first}-{fold.last}"
            )
            entries.append(f"[{label}] {neutralize_tags(fold.summary)}")
            number = fold.last + 1
        else:
            entries.append(f"[Step {number}] {compact_step(*done[number - 1])}")
            number += 1
    history = HISTORY_TEMPLATE.format(
        entries="\n\n".join(entries) or NO_EARLIER_STEPS,
        latest=f"[Step {len(done)}]\n{full_step(*done[-1])}",
        next=len(done) + 1,
    )
    notices = [IGNORED_NOTICE.format(step=len(done), reason=reason) for reason in ignored]
    return FOLDED_TEMPLATE.format(question=question, history="\n\n".join([history, *notices]))


def compact_step(turn: Step, response: Step) -> str:
    """An unfolded earlier step: its action and the head of its observation."""
    inner = response.content.removeprefix(f"{TOOL_RESPONSE_OPEN}\n")
    inner = inner.removesuffix(f"\n{TOOL_RESPONSE_CLOSE}")
    if len(inner) > COMPACT_OBSERVATION_CHARS:
        inner = f"{inner[:COMPACT_OBSERVATION_CHARS]} [...]"
    action = neutralize_tags(render_step_for_history(turn))
    return f"{action}\nObservation:\n{render_tool_response(inner)}"


def full_step(turn: Step, response: Step) -> str:
    """The latest step as the model wrote and got it: thinking, action, observation."""
    lines = [f"Thinking: {neutralize_tags(turn.think)}"] if turn.think else []
    lines.append(neutralize_tags(render_step_for_history(turn)))
    lines.append(f"Observation:\n{response.content}")
    return "\n".join(lines)
