"""ReSum (Wu et al. 2025, "ReSum: Unlocking Long-Horizon Search Intelligence via Context
Summarization"): ReAct until the context grows past a threshold, then the history is
condensed into a reasoning state and the episode goes on from that state.

After a tool response, when the context (counted with the `TokenCounter`) passes
`threshold` × `limits.max_context_tokens`, the runtime appends a SUMMARY_REQUEST user step
to the live context and asks for a turn with `Purpose.SUMMARIZE`. The model's SUMMARY turn is
stored like any model turn (token ids and log-probs kept, so it can be trained on); the text
of its `<summary></summary>` block becomes a STATE user step — the question, the summary and
"continue from this state" — and from then on every acting turn sees
[system, few-shot…, STATE, the turns and responses after it]. A later summary condenses that
context (the earlier STATE included) into a new STATE.

Edge cases, each noted in `stats.notes`: a summary with no complete `<summary>` block uses
the turn's whole text outside <think> (`summary_without_block`); a summary with no text
outside <think> is not used and the context stays as it was (`summary_empty`); a summary is
not requested when the request and a turn would not fit the window (`summary_no_room`: the
shared loop then forces a final answer), nor after the last acting turn. At most
`max_summaries` summary turns are made per episode; after that the episode continues as
ReAct. `summaries` counts the states in use.
"""

from agents.episode import Step, StepKind, Transcript
from agents.format import neutralize_tags
from agents.paradigms.base import (
    EpisodeLimits,
    EpisodeStats,
    Paradigm,
    PromptSettings,
    add_counted,
    add_model_step,
    generate,
    opening_steps,
    question_of,
    turns_remain,
)
from agents.paradigms.blocks import find_blocks, strip_think, thinking
from agents.policy import Actor, Purpose, TokenCounter

# The ReSum paper summarizes when the context approaches the window; we summarize at 60% of
# it, early enough that the request and the summary turn still fit after a long page.
DEFAULT_THRESHOLD = 0.6
# Our bound (the paper sets none): a model that cannot condense must not loop on summaries.
DEFAULT_MAX_SUMMARIES = 4

SUMMARY_REQUEST_TEMPLATE = """Pause the research: do not call a tool in this turn. Summarize \
your progress on the question into a compact reasoning state. Only this summary will be kept \
in place of the conversation so far, so it must hold everything needed to continue.

Question: {question}

Think inside <think></think> if you need to, then write the summary inside \
<summary></summary> with:
- Verified facts: what is established, each with its source (the URL, or the computation \
that gave it).
- Open leads: candidate answers, partial findings and conflicts still unresolved, marked as \
unverified.
- Next steps: what to search, read or compute next.
Include only what the conversation above shows; do not guess or add facts from memory."""

STATE_TEMPLATE = """Question: {question}

Your research so far, summarized:
{summary}

Continue from this state: if it already answers the question, give the answer; otherwise \
go on researching."""

_CONTINUED = frozenset({StepKind.TURN, StepKind.TOOL_RESPONSE})


class ReSum(Paradigm):
    """ReAct with periodic summaries that replace the history by a reasoning state."""

    name = "resum"
    version = "resum-1"
    templates = (SUMMARY_REQUEST_TEMPLATE, STATE_TEMPLATE)

    def __init__(
        self,
        prompt: PromptSettings | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        max_summaries: int = DEFAULT_MAX_SUMMARIES,
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"ReSum threshold must be in (0, 1), got {threshold}")
        if max_summaries < 0:
            raise ValueError(f"ReSum max_summaries must be >= 0, got {max_summaries}")
        super().__init__(prompt)
        self.threshold = threshold
        self.max_summaries = max_summaries

    def context(self, transcript: Transcript) -> list[int]:
        """System and few-shot, the latest STATE (the question before any), and the turns
        and responses after it; summary requests and summaries are never shown again."""
        states = transcript.of_kind(StepKind.STATE)
        anchor = states[-1] if states else transcript.of_kind(StepKind.QUESTION)[0]
        later = [s.index for s in transcript.steps[anchor.index + 1 :] if s.kind in _CONTINUED]
        return [*opening_steps(transcript), anchor.index, *later]

    def after_turn(
        self, transcript: Transcript, step: Step, blocks: dict, stats: EpisodeStats
    ) -> None:
        """Record the number of summaries in use (zero until the first)."""
        stats.notes.setdefault("summaries", 0)

    async def after_observation(
        self,
        transcript: Transcript,
        actor: Actor,
        counter: TokenCounter,
        limits: EpisodeLimits,
        stats: EpisodeStats,
        timeout_s: float,
    ) -> None:
        """Summarize when the context passed the threshold, and continue from the state."""
        attempts = len(transcript.of_kind(StepKind.SUMMARY))
        if not turns_remain(transcript, limits) or attempts >= self.max_summaries:
            return
        context = self.context(transcript)
        messages = transcript.messages(context)
        if counter.count(messages) < self.threshold * limits.max_context_tokens:
            return
        question = question_of(transcript)
        request_text = SUMMARY_REQUEST_TEMPLATE.format(question=question)
        request_message = {"role": "user", "content": request_text}
        if counter.count([*messages, request_message]) + limits.turn_tokens > (
            limits.max_context_tokens
        ):
            stats.bump("summary_no_room")
            return
        request = add_counted(transcript, counter, "user", StepKind.SUMMARY_REQUEST, request_text)
        context = [*context, request.index]
        turn = await generate(actor, transcript, context, Purpose.SUMMARIZE, stats, timeout_s)
        summary_step = add_model_step(transcript, StepKind.SUMMARY, turn, None, context)
        summary_step.think = thinking(turn.text)
        summary, had_block = extract_summary(turn.text)
        if not had_block:
            stats.bump("summary_without_block")
        if not summary:
            stats.bump("summary_empty")
            return
        state = STATE_TEMPLATE.format(question=question, summary=neutralize_tags(summary))
        add_counted(transcript, counter, "user", StepKind.STATE, state)
        stats.bump("summaries")


def extract_summary(text: str) -> tuple[str, bool]:
    """The summary a SUMMARIZE turn wrote, and whether it came from a `<summary>` block.

    The last complete block outside <think> wins (a model may draft, then revise); without
    one, the whole text outside <think> is the summary, minus a `<summary>` tag left open by
    a turn cut at its length limit.
    """
    outside, _, _ = find_blocks(text, "summary")
    if outside:
        return outside[-1], True
    said = strip_think(text)
    opened = said.rfind("<summary>")
    if opened != -1:
        said = said[opened + len("<summary>") :].strip()
    return said, False
