"""IterResearch (Chen et al. 2025, "IterResearch: Rethinking Long-Horizon Agents via Markovian
State Reconstruction"): every round the model sees a workspace rebuilt from the question, its
evolving report and the last action with its observation, and nothing else of the past.

Each turn is think → `<report>…</report>` → one tool call (or the answer), the paper's
Think / Report / Action; the system prompt's addendum (`INSTRUCTIONS`) says so. The report
replaces the previous one, so it is the episode's only memory. The context of every turn is
[system, few-shot… (none by default: the shared few-shot is ReAct-format), WORKSPACE], and a
new WORKSPACE step is written for every round (the first by `begin`, the next after each tool
response), so each turn's `context_steps` point at the workspace it saw.

Parsing: the `<report>` block is taken out first (blocks.parse_tagged_turn), then the rest is
parsed in the reference format, so a report that quotes `<answer>` never ends the episode.
The last non-empty report outside <think> is used; a report written only inside <think> is
accepted too (counted as `report_in_think`): dropping it would lose the whole memory, which
costs more than taking a draft. A non-answer turn with no report (or an empty one) keeps the
previous report, is counted as `report_missing`, and the next workspace says so. An answer
turn needs no report (nothing reads it). Report text is neutralized (format.neutralize_tags)
before it goes into a user message, as tool output is.
"""

from agents.episode import Step, StepKind, Transcript
from agents.format import ParsedTurn, neutralize_tags
from agents.paradigms.base import (
    EpisodeStats,
    RebuiltContext,
    question_of,
    render_step_for_history,
)
from agents.paradigms.blocks import find_blocks, parse_tagged_turn
from agents.prompts import NO_FEW_SHOT

REPORT_TAG = "report"

INSTRUCTIONS = """# Research rounds

You work in rounds. Each round you see only the question, your report and your last action \
with its result; nothing else of earlier rounds is kept. In every turn:
1. Think inside <think></think>.
2. Write the updated report inside <report></report>: every fact you have established, each \
with its source (a URL or a computation), candidate answers, and what is still open. It \
replaces your previous report, so carry over everything that still matters.
3. Call one tool, or give the final answer inside <answer></answer> (a final answer needs no \
report)."""

WORKSPACE_TEMPLATE = """Question: {question}

Round {round}. Your report so far:
{report}

{last}"""
NO_REPORT_YET = "(empty: nothing is established yet)"
FIRST_ROUND = "This is the first round: there is no earlier action."
LAST_TEMPLATE = "Your last action:\n{action}\n\nIts result:\n{observation}"
MISSING_REPORT_NOTICE = (
    "Your last turn had no <report></report>, so the report above is the earlier one. "
    "Write the updated report in this turn."
)


class IterResearch(RebuiltContext):
    """A fresh workspace each round: question, evolving report, last action/observation."""

    name = "iterresearch"
    version = "iterresearch-1"
    instructions = INSTRUCTIONS
    templates = (
        WORKSPACE_TEMPLATE,
        NO_REPORT_YET,
        FIRST_ROUND,
        LAST_TEMPLATE,
        MISSING_REPORT_NOTICE,
    )
    default_few_shot = NO_FEW_SHOT
    memory_kind = StepKind.WORKSPACE

    def render_memory(self, transcript: Transcript) -> str:
        """The next round's workspace: question, report, last action and result."""
        return workspace_text(transcript)

    def parse(self, text: str) -> tuple[ParsedTurn, dict]:
        """The turn without its report, in the reference format, and the report it wrote."""
        tagged = parse_tagged_turn(text, REPORT_TAG)
        report, in_think = choose_report(tagged.outside, tagged.in_think)
        return tagged.parsed, {"report": report, "report_in_think": in_think}

    def after_turn(
        self, transcript: Transcript, step: Step, blocks: dict, stats: EpisodeStats
    ) -> None:
        """Count a missing report (on a turn that does not answer) and one from <think>."""
        if blocks["report"] is None and step.answer is None:
            stats.bump("report_missing")
        if blocks["report_in_think"]:
            stats.bump("report_in_think")


def choose_report(outside: tuple[str, ...], in_think: tuple[str, ...]) -> tuple[str | None, bool]:
    """The report a turn wrote — the last non-empty block outside <think>, else the last one
    inside it — and whether it came from inside <think>; None when it wrote none (an empty
    block would erase the memory, so it counts as no report)."""
    for bodies, thinking in ((outside, False), (in_think, True)):
        written = [body for body in bodies if body]
        if written:
            return written[-1], thinking
    return None, False


def report_of(turn: Step) -> str | None:
    """The report a stored turn wrote (its content is the whole kept turn), or None."""
    outside, in_think, _ = find_blocks(turn.content, REPORT_TAG)
    return choose_report(outside, in_think)[0]


def workspace_text(transcript: Transcript) -> str:
    """The workspace of the next round, from the transcript so far: the question, the latest
    report any turn wrote, and the last turn's action and tool response."""
    turns = transcript.turns
    report = next((r for turn in reversed(turns) if (r := report_of(turn)) is not None), None)
    if not turns:
        last = FIRST_ROUND
    else:
        response = transcript.of_kind(StepKind.TOOL_RESPONSE)[-1]  # it answered turns[-1]
        last = LAST_TEMPLATE.format(
            action=neutralize_tags(render_step_for_history(turns[-1])),
            observation=response.content,
        )
        if report_of(turns[-1]) is None:
            last = f"{last}\n\n{MISSING_REPORT_NOTICE}"
    return WORKSPACE_TEMPLATE.format(
        question=question_of(transcript),
        round=len(turns) + 1,
        report=NO_REPORT_YET if report is None else neutralize_tags(report),
        last=last,
    )
