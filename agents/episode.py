"""What one agent episode leaves behind: its steps (one message each) and its outcome.

A `Transcript` is the list of every message of an episode, in the order they were written:
the system prompt, the few-shot prefix, the question, each model turn, each tool response,
and whatever a paradigm writes to manage its context (a ReSum summary request and the
reasoning state that replaces the history, an IterResearch workspace, an AgentFold folded
history, the forced-final-answer prompt). Paradigms differ only in which of these messages
the model sees next: every model turn records the indices of the steps that made its context
(`context_steps`), so the exact input of every turn can be rebuilt from the rows, and every
model turn keeps the token ids it sampled and their log-probs (token-in/token-out).

`Episode` is the outcome: termination reason, answer, counts of valid and invalid tool
calls, tokens in and out, and where the wall time went (model calls, tools, the rest).
"""

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agents.format import Termination

Message = dict[str, str]  # {"role": ..., "content": ...}


class StepKind(StrEnum):
    """What a message is, beyond its chat role."""

    SYSTEM = "system"
    FEW_SHOT = "few_shot"  # a message of the versioned few-shot prefix
    QUESTION = "question"
    TURN = "turn"  # a model turn that acts: a tool call, an answer, or a malformed attempt
    TOOL_RESPONSE = "tool_response"  # a tool's result, or the error a bad call got
    SUMMARY_REQUEST = "summary_request"  # ReSum: the instruction to summarize the history
    SUMMARY = "summary"  # ReSum: the model's summary turn
    STATE = "state"  # ReSum: the reasoning state that replaces the history
    WORKSPACE = "workspace"  # IterResearch: question, report and last action/observation
    FOLDED = "folded"  # AgentFold: the folded history the next turn sees
    FORCE_ANSWER = "force_answer"  # the context is full: answer now


# The kinds a model wrote; only these are trained on later.
MODEL_KINDS = frozenset({StepKind.TURN, StepKind.SUMMARY})


@dataclass
class Step:
    """One message of an episode, with what the runtime learned about it."""

    index: int
    role: str  # "system" | "user" | "assistant"
    kind: StepKind
    content: str  # the text as it stands in a context (a model turn: as parsed and kept)
    think: str | None = None
    tool_name: str | None = None
    tool_arguments: dict[str, Any] | None = None
    tool_error: str | None = None  # why a call was refused or failed (a tool response)
    format_error: str | None = None  # a model turn's FormatError, if it had one
    violations: tuple[str, ...] = ()
    answer: str | None = None
    context_steps: tuple[int, ...] = ()  # model turns: the steps that made the input
    token_ids: tuple[int, ...] | None = None  # model turns: the sampled ids (token-out)
    logprobs: tuple[float, ...] | None = None
    raw_text: str | None = None  # model turns: the decoded text before parsing cut it
    prompt_tokens: int = 0
    completion_tokens: int = 0
    content_tokens: int | None = None  # the message's own length in tokens, where counted
    latency_s: float = 0.0
    finish_reason: str | None = None

    def message(self) -> Message:
        return {"role": self.role, "content": self.content}

    def arguments_json(self) -> str | None:
        if self.tool_arguments is None:
            return None
        return json.dumps(self.tool_arguments, ensure_ascii=False, sort_keys=True)


class Transcript:
    """Every step of one episode, appended in order; contexts are lists of step indices."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, role: str, kind: StepKind, content: str, **fields: Any) -> Step:
        """Append a message and return its step."""
        step = Step(index=len(self.steps), role=role, kind=kind, content=content, **fields)
        self.steps.append(step)
        return step

    def messages(self, indices: tuple[int, ...] | list[int]) -> list[Message]:
        """The chat messages of the given steps, in the given order."""
        return [self.steps[i].message() for i in indices]

    def of_kind(self, *kinds: StepKind) -> list[Step]:
        return [step for step in self.steps if step.kind in kinds]

    @property
    def turns(self) -> list[Step]:
        """The model's acting turns (not summaries)."""
        return self.of_kind(StepKind.TURN)


@dataclass
class Episode:
    """The outcome of one episode (the `trajectories` row before lineage is added)."""

    transcript: Transcript
    termination: Termination
    answer: str | None
    turns: int
    tool_calls_valid: int
    tool_calls_invalid: int  # malformed or schema-invalid calls, and turns with no action
    tool_failures: int  # valid calls whose tool raised (an index or sandbox error)
    violations: int  # hallucinated tool responses and missing <think>
    tokens_in: int
    tokens_out: int
    wall_s: float
    model_s: float
    tool_s: float
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # a policy's own notes (planner trace)

    @property
    def valid_tool_call_rate(self) -> float | None:
        attempts = self.tool_calls_valid + self.tool_calls_invalid
        return self.tool_calls_valid / attempts if attempts else None

    @property
    def harness_s(self) -> float:
        """Wall time outside model calls and tools: the runtime's own overhead."""
        return max(self.wall_s - self.model_s - self.tool_s, 0.0)
