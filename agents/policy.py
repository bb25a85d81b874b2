"""Who writes the model turns of an episode: the policy interface and the LLM policy.

A `Policy` makes one `Actor` per episode (a task and a sample number); the actor is asked for
one turn at a time with the exact messages the paradigm built and a `Purpose` (act, write a
summary, or answer now). The LLM policy sends those messages to a backend; the planner
policy (agents/policies/) writes its turns from a task's spec and the tool results it got.
Either way a turn comes back as a `ModelTurn` with its token ids and log-probs when the
writer has them, so the transcript is token-exact.

`TokenCounter` measures a context in the policy model's tokens (its chat template), which
is what the context limit and ReSum's threshold are about; without a tokenizer it estimates
from characters (a hosted API).
"""

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from agents.backends.base import Backend, GenerationRequest, SamplingParams
from agents.episode import Message, Transcript
from agents.format import STOP_STRINGS

# Characters per token of English text with a BPE tokenizer, for the estimate only.
CHARS_PER_TOKEN_ESTIMATE = 3.6


class Purpose(StrEnum):
    """What a turn is for; an LLM gets the instruction in the messages, a planner reads it."""

    ACT = "act"  # think, then a tool call or an answer
    SUMMARIZE = "summarize"  # ReSum: condense the history into a reasoning state
    FINAL_ANSWER = "final_answer"  # the context is full: answer without tools


@dataclass(frozen=True)
class ModelTurn:
    """One generated turn: text, and token ids/log-probs where the writer has them."""

    text: str
    token_ids: tuple[int, ...] | None = None
    logprobs: tuple[float, ...] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None


@dataclass(frozen=True)
class EpisodeTask:
    """What an episode is about: the question, and the task row for policies that plan."""

    task_id: str
    question: str
    row: dict[str, Any]  # the qa_tasks row (a planner reads its spec; an LLM never does)


class Actor(Protocol):
    """Writes the turns of one episode."""

    async def turn(
        self, messages: list[Message], purpose: Purpose, transcript: Transcript
    ) -> ModelTurn: ...


class Policy(Protocol):
    """Makes actors; `name`, `model` and `sampling` go into every trajectory row."""

    name: str  # "llm", "planner", "reasoning", ...
    model: str  # the model id, or the planner's version
    sampling: dict[str, Any]  # sampling parameters (empty for deterministic writers)

    def actor(self, task: EpisodeTask, sample: int) -> Actor: ...


class TokenCounter:
    """Counts a conversation in a model's tokens, by its chat template (or estimates)."""

    def __init__(self, tokenizer: Any | None = None) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def for_checkpoint(cls, checkpoint: str | os.PathLike[str]) -> "TokenCounter":
        """The counter of a local HF checkpoint's tokenizer (loaded once, offline)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(Path(checkpoint), local_files_only=True))

    def count(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> int:
        """Tokens of the prompt these messages make (with the assistant header)."""
        if self.tokenizer is None:
            chars = sum(len(m["content"]) + 16 for m in messages)
            return int(chars / CHARS_PER_TOKEN_ESTIMATE)
        ids = self.tokenizer.apply_chat_template(
            list(messages), tokenize=True, add_generation_prompt=add_generation_prompt
        )
        return len(ids["input_ids"] if isinstance(ids, dict) else ids)

    def count_text(self, text: str) -> int:
        """Tokens of a bare text."""
        if self.tokenizer is None:
            return int(len(text) / CHARS_PER_TOKEN_ESTIMATE)
        return len(self.tokenizer.encode(text, add_special_tokens=False))


def agent_sampling(
    temperature: float, top_p: float, max_tokens: int, seed: int | None
) -> SamplingParams:
    """Sampling for agent turns: stop where a tool response would start (the reference
    agent's stop list), and keep the sampled tokens' log-probs for training."""
    return SamplingParams(
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        stop=STOP_STRINGS,
        seed=seed,
        logprobs=True,
    )


class LLMPolicy:
    """A model behind any backend writes every turn; sample `i` of a task gets seed base+i."""

    name = "llm"

    def __init__(self, backend: Backend, params: SamplingParams) -> None:
        self.backend = backend
        self.params = params
        self.model = backend.model_id
        self.sampling = params.as_record()

    def actor(self, task: EpisodeTask, sample: int) -> "LLMActor":
        seed = None if self.params.seed is None else self.params.seed + sample
        return LLMActor(self.backend, _with_seed(self.params, seed))


class LLMActor:
    """One episode's turns from a backend (the messages are the whole instruction)."""

    def __init__(self, backend: Backend, params: SamplingParams) -> None:
        self.backend = backend
        self.params = params

    async def turn(
        self, messages: list[Message], purpose: Purpose, transcript: Transcript
    ) -> ModelTurn:
        started = time.perf_counter()
        (result,) = await self.backend.agenerate([GenerationRequest.chat(messages, self.params)])
        return ModelTurn(
            text=result.text,
            token_ids=result.token_ids,
            logprobs=result.logprobs,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            latency_s=time.perf_counter() - started,
            finish_reason=result.finish_reason,
        )


def _with_seed(params: SamplingParams, seed: int | None) -> SamplingParams:
    record = params.as_record()
    record["seed"] = seed
    record["stop"] = tuple(record["stop"])
    return SamplingParams(**record)
