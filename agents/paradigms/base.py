"""The episode loop every paradigm shares, and the hooks a paradigm fills in.

One episode: the paradigm writes the opening messages; then, turn by turn, it chooses the
steps the model sees (`context`), the actor writes a turn, the paradigm parses it (its own
blocks first, then the reference format), and the runtime either ends the episode on an
answer or runs the tool call and appends the response. After each observation the paradigm
may rework its memory (ReSum summarizes, IterResearch rebuilds its workspace, AgentFold
folds). Stop conditions are named predicates below: an answer, the turn budget, the context
limit (then one forced final answer, as the reference agent does), the time limit, an error.

Paradigms differ only in `context`, `parse`, `after_turn` and `after_observation`; the
counting, timing, tool running and termination are here, once.
"""

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agents.backends.base import BackendError
from agents.episode import Episode, Step, StepKind, Transcript
from agents.format import (
    FORCE_FINAL_ANSWER_PROMPT,
    TOOL_RESPONSE_ROLE,
    ParsedTurn,
    Termination,
    parse_turn,
    render_format_error,
    render_tool_response,
)
from agents.policy import Actor, EpisodeTask, ModelTurn, Purpose, TokenCounter
from agents.prompts import DEFAULT_FEW_SHOT, FewShot, prompt_template_hash, system_prompt
from agents.tool_runner import ToolRunner
from agents.tool_schemas import TOOLS, ToolSpec

# Tokens kept free for the forced-final-answer prompt itself (it is ~70 tokens long).
FORCE_ANSWER_RESERVE = 96


@dataclass(frozen=True)
class EpisodeLimits:
    """Budgets of one episode. `turn_tokens` must equal the actor's max_tokens."""

    max_turns: int = 12
    max_context_tokens: int = 4096  # the policy model's window (vLLM's --max-model-len)
    turn_tokens: int = 512
    time_limit_s: float = 900.0

    def __post_init__(self) -> None:
        if self.max_turns < 1 or self.turn_tokens < 1 or self.time_limit_s <= 0:
            raise ValueError("EpisodeLimits: max_turns, turn_tokens and time_limit_s must be > 0")
        if self.max_context_tokens <= self.turn_tokens + FORCE_ANSWER_RESERVE:
            raise ValueError(
                f"max_context_tokens ({self.max_context_tokens}) must exceed turn_tokens "
                f"({self.turn_tokens}) + {FORCE_ANSWER_RESERVE}"
            )


@dataclass(frozen=True)
class PromptSettings:
    """The prompt an episode opens with: tools, few-shot prefix, optional date."""

    tools: tuple[ToolSpec, ...] = TOOLS
    few_shot: FewShot = DEFAULT_FEW_SHOT
    current_date: str | None = None


@dataclass
class EpisodeStats:
    """Counters the loop and the paradigm hooks add to."""

    valid: int = 0
    invalid: int = 0
    failures: int = 0
    violations: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    model_s: float = 0.0
    tool_s: float = 0.0
    notes: dict = field(default_factory=dict)

    def bump(self, key: str) -> None:
        """Add one to the count `key` in `notes` (a paradigm's own events, as summaries
        made or directives ignored), so every such event is counted in the episode row."""
        self.notes[key] = self.notes.get(key, 0) + 1


class Paradigm:
    """How the model's context is built from the transcript (ReAct by default)."""

    name: str = "react"
    version: str = "react-1"
    # An addendum to the system prompt describing the paradigm's own blocks, if any.
    instructions: str = ""
    # The fixed texts the paradigm writes into contexts (a summary request, a workspace
    # layout); hashed with the prompt, so a changed wording changes the recorded hash.
    templates: tuple[str, ...] = ()
    # The few-shot prefix when no PromptSettings are given (the default one is ReAct-format).
    default_few_shot: FewShot = DEFAULT_FEW_SHOT

    def __init__(self, prompt: PromptSettings | None = None) -> None:
        self.prompt = prompt or PromptSettings(few_shot=self.default_few_shot)

    # -- the prompt --------------------------------------------------------------------
    def system_text(self) -> str:
        text = system_prompt(self.prompt.tools, self.prompt.current_date)
        return f"{text}\n\n{self.instructions}" if self.instructions else text

    def prompt_hash(self) -> str:
        """The hash recorded with every row: base prompt, few-shot and this paradigm."""
        base = prompt_template_hash(self.prompt.tools, self.prompt.few_shot)
        text = "\n".join([base, self.version, self.instructions, *self.templates])
        return hashlib.sha256(text.encode()).hexdigest()

    def begin(self, transcript: Transcript, question: str, counter: TokenCounter) -> None:
        """Write the opening steps: system prompt, few-shot prefix, question."""
        add_counted(transcript, counter, "system", StepKind.SYSTEM, self.system_text())
        for message in self.prompt.few_shot.messages:
            add_counted(transcript, counter, message["role"], StepKind.FEW_SHOT, message["content"])
        add_counted(transcript, counter, "user", StepKind.QUESTION, question)

    # -- the hooks ---------------------------------------------------------------------
    def context(self, transcript: Transcript) -> list[int]:
        """The steps the next acting turn sees (ReAct: all of them, in order)."""
        return [step.index for step in transcript.steps]

    def parse(self, text: str) -> tuple[ParsedTurn, dict]:
        """The turn in the reference format, plus this paradigm's own blocks (none here)."""
        return parse_turn(text), {}

    def after_turn(
        self, transcript: Transcript, step: Step, blocks: dict, stats: EpisodeStats
    ) -> None:
        """React to a parsed turn's own blocks (IterResearch's report, AgentFold's folds)."""
        return None

    async def after_observation(
        self,
        transcript: Transcript,
        actor: Actor,
        counter: TokenCounter,
        limits: EpisodeLimits,
        stats: EpisodeStats,
        timeout_s: float,
    ) -> None:
        """Rework the memory after a tool response (ReSum's summary, IterResearch's
        workspace, AgentFold's folded history); nothing in ReAct. `timeout_s` is the time
        the episode has left, for a paradigm that generates here."""
        return None


class RebuiltContext(Paradigm):
    """A paradigm whose every turn sees only the opening steps and one memory message that
    it rewrites after each observation (IterResearch's workspace, AgentFold's folded
    history): subclasses set the message's kind and define `render_memory`, which writes
    its text from the transcript so far."""

    memory_kind: StepKind
    render_memory: Callable[[Transcript], str]

    def begin(self, transcript: Transcript, question: str, counter: TokenCounter) -> None:
        """The opening steps, then the first turn's memory message."""
        super().begin(transcript, question, counter)
        self._write_memory(transcript, counter)

    def context(self, transcript: Transcript) -> list[int]:
        """System and few-shot, then the latest memory message only."""
        latest = transcript.of_kind(self.memory_kind)[-1]
        return [*opening_steps(transcript), latest.index]

    async def after_observation(
        self,
        transcript: Transcript,
        actor: Actor,
        counter: TokenCounter,
        limits: EpisodeLimits,
        stats: EpisodeStats,
        timeout_s: float,
    ) -> None:
        """Write the next turn's memory message (unless no turn is left to see it)."""
        if turns_remain(transcript, limits):
            self._write_memory(transcript, counter)

    def _write_memory(self, transcript: Transcript, counter: TokenCounter) -> None:
        add_counted(transcript, counter, "user", self.memory_kind, self.render_memory(transcript))


def add_counted(
    transcript: Transcript, counter: TokenCounter, role: str, kind: StepKind, content: str
) -> Step:
    """Append a non-model message with its own token count."""
    return transcript.add(role, kind, content, content_tokens=counter.count_text(content))


async def generate(
    actor: Actor,
    transcript: Transcript,
    context: list[int],
    purpose: Purpose,
    stats: EpisodeStats,
    timeout_s: float,
) -> ModelTurn:
    """One turn from the actor on these steps, timed and counted (raises TimeoutError)."""
    started = time.perf_counter()
    try:
        turn = await asyncio.wait_for(
            actor.turn(transcript.messages(context), purpose, transcript), timeout_s
        )
    finally:
        stats.model_s += time.perf_counter() - started
    stats.tokens_in += turn.prompt_tokens
    stats.tokens_out += turn.completion_tokens
    return turn


def add_model_step(
    transcript: Transcript,
    kind: StepKind,
    turn: ModelTurn,
    parsed: ParsedTurn | None,
    context: list[int],
    content: str | None = None,
) -> Step:
    """Append a model turn with its token ids, log-probs and what the parser found."""
    return transcript.add(
        "assistant",
        kind,
        content if content is not None else (parsed.content if parsed else turn.text.strip()),
        think=parsed.think if parsed else None,
        tool_name=parsed.tool_call.name if parsed and parsed.tool_call else None,
        tool_arguments=parsed.tool_call.arguments if parsed and parsed.tool_call else None,
        format_error=str(parsed.error_kind) if parsed and parsed.error_kind else None,
        violations=tuple(str(v) for v in parsed.violations) if parsed else (),
        answer=parsed.answer if parsed else None,
        context_steps=tuple(context),
        token_ids=turn.token_ids,
        logprobs=turn.logprobs,
        raw_text=turn.text,
        prompt_tokens=turn.prompt_tokens,
        completion_tokens=turn.completion_tokens,
        latency_s=turn.latency_s,
        finish_reason=turn.finish_reason,
    )


def context_is_full(
    transcript: Transcript, context: list[int], counter: TokenCounter, limits: EpisodeLimits
) -> bool:
    """True when the next turn (and a forced answer after it) no longer fits the window."""
    used = counter.count(transcript.messages(context))
    return used + limits.turn_tokens + FORCE_ANSWER_RESERVE > limits.max_context_tokens


def out_of_time(started: float, limits: EpisodeLimits) -> bool:
    return time.perf_counter() - started >= limits.time_limit_s


def turns_remain(transcript: Transcript, limits: EpisodeLimits) -> bool:
    """True while another acting turn fits the turn budget (so memory work is not wasted
    on a context no turn will see)."""
    return len(transcript.turns) < limits.max_turns


async def run_episode(
    task: EpisodeTask,
    actor: Actor,
    paradigm: Paradigm,
    runner: ToolRunner,
    counter: TokenCounter,
    limits: EpisodeLimits,
) -> Episode:
    """Run one episode of `paradigm` with `actor` on `task` and return its outcome."""
    started = time.perf_counter()
    transcript = Transcript()
    stats = EpisodeStats()
    paradigm.begin(transcript, task.question, counter)
    termination, answer, error = Termination.MAX_TURNS, None, None

    def remaining() -> float:
        return max(limits.time_limit_s - (time.perf_counter() - started), 0.001)

    try:
        for _ in range(limits.max_turns):
            if out_of_time(started, limits):
                termination = Termination.TIME_LIMIT
                break
            context = paradigm.context(transcript)
            if context_is_full(transcript, context, counter, limits):
                answer = await force_final_answer(transcript, actor, context, stats, remaining())
                termination = Termination.CONTEXT_LIMIT
                break
            turn = await generate(actor, transcript, context, Purpose.ACT, stats, remaining())
            parsed, blocks = paradigm.parse(turn.text)
            step = add_model_step(transcript, StepKind.TURN, turn, parsed, context)
            stats.violations += len(parsed.violations)
            paradigm.after_turn(transcript, step, blocks, stats)
            if parsed.answer is not None:
                termination, answer = Termination.ANSWER, parsed.answer
                break
            await observe(transcript, parsed, runner, counter, stats)
            await paradigm.after_observation(transcript, actor, counter, limits, stats, remaining())
    except TimeoutError:
        termination = Termination.TIME_LIMIT
    except BackendError as failure:
        termination, error = Termination.ERROR, str(failure)
    return Episode(
        transcript=transcript,
        termination=termination,
        answer=answer,
        turns=len(transcript.turns),
        tool_calls_valid=stats.valid,
        tool_calls_invalid=stats.invalid,
        tool_failures=stats.failures,
        violations=stats.violations,
        tokens_in=stats.tokens_in,
        tokens_out=stats.tokens_out,
        wall_s=time.perf_counter() - started,
        model_s=stats.model_s,
        tool_s=stats.tool_s,
        error=error,
        extra=stats.notes,
    )


async def observe(
    transcript: Transcript,
    parsed: ParsedTurn,
    runner: ToolRunner,
    counter: TokenCounter,
    stats: EpisodeStats,
) -> Step:
    """Run the turn's tool call (or explain its format error) and append the response."""
    if not parsed.ok or parsed.tool_call is None:
        stats.invalid += 1
        text = parsed.error or "Format error."
        return transcript.add(
            TOOL_RESPONSE_ROLE,
            StepKind.TOOL_RESPONSE,
            render_format_error(text),
            tool_error=text,
            content_tokens=counter.count_text(text),
        )
    call = parsed.tool_call
    outcome = await runner.run(call)
    stats.tool_s += outcome.seconds
    if outcome.valid:
        stats.valid += 1
    else:
        stats.invalid += 1
    stats.failures += outcome.failed
    content = render_tool_response(outcome.text)
    return transcript.add(
        TOOL_RESPONSE_ROLE,
        StepKind.TOOL_RESPONSE,
        content,
        tool_name=call.name,
        tool_arguments=call.arguments,
        tool_error=outcome.error,
        content_tokens=counter.count_text(content),
        latency_s=outcome.seconds,
    )


async def force_final_answer(
    transcript: Transcript,
    actor: Actor,
    context: list[int],
    stats: EpisodeStats,
    timeout_s: float,
) -> str | None:
    """Ask for an answer without tools (the context is full); its answer, if it gave one."""
    prompt = transcript.add("user", StepKind.FORCE_ANSWER, FORCE_FINAL_ANSWER_PROMPT)
    context = [*context, prompt.index]
    turn = await generate(actor, transcript, context, Purpose.FINAL_ANSWER, stats, timeout_s)
    parsed = parse_turn(turn.text)
    add_model_step(transcript, StepKind.TURN, turn, parsed, context)
    stats.violations += len(parsed.violations)
    return parsed.answer


def opening_steps(transcript: Transcript) -> list[int]:
    """The system prompt and few-shot steps: the fixed head of every paradigm's context."""
    return [s.index for s in transcript.of_kind(StepKind.SYSTEM, StepKind.FEW_SHOT)]


def question_of(transcript: Transcript) -> str:
    """The episode's question (the text of its QUESTION step)."""
    return transcript.of_kind(StepKind.QUESTION)[0].content


def render_step_for_history(step: Step) -> str:
    """A compact one-block rendering of a turn or response, for folded/summarized views."""
    if step.kind is StepKind.TURN:
        if step.tool_name:
            call = json.dumps(
                {"name": step.tool_name, "arguments": step.tool_arguments}, ensure_ascii=False
            )
            return f"Action: {call}"
        return f"Action (malformed): {step.content[:300]}"
    return f"Observation: {step.content}"
