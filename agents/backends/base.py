"""One interface for every LLM the agents call: requests in, token-exact results out.

A request is either chat messages (the backend applies the model's chat template) or raw
prompt token ids (token-in). A result keeps the generated token ids and their log-probs
(token-out), so training never re-tokenizes text the model produced (DESIGN.md).

The same `SamplingParams` mean the same thing in every backend:
- `temperature == 0` is greedy decoding; otherwise sampling with `temperature` and `top_p`
  (no top-k, no repetition penalty, whatever the checkpoint's generation config says);
- generation ends at the end-of-turn token, at the first stop string, or after `max_tokens`;
- a stop string is cut off: `text` ends before it, and `token_ids` are the sampled tokens
  whose text lies wholly before it (a token holding the start of the stop string is dropped
  with any characters it had before the stop string, so `text` is the text of `token_ids`);
- the end-of-turn token, when it ended generation, stays in `token_ids` (the model sampled
  it and must learn to; FACTS.md) but never in `text`;
- `logprobs` are of the model's unmodified next-token distribution (before temperature and
  top-p, as vLLM's default `raw_logprobs`), one per kept token id;
- `seed` makes sampling repeatable within one backend (not across backends).
"""

import asyncio
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

FinishReason = Literal["stop", "length"]
Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant" | "tool", "content": …}


class BackendError(RuntimeError):
    """A generation request failed; the message names the backend or endpoint."""


class BackendTimeout(BackendError):
    """A request ran past its time limit."""


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one completion (the same meaning in every backend; module docstring)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop strings must be non-empty strings, got {self.stop!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def as_record(self) -> dict[str, object]:
        """The parameters as a plain dict, for the lineage of rows a model produced."""
        record = asdict(self)
        record["stop"] = list(self.stop)
        return record


@dataclass(frozen=True)
class GenerationRequest:
    """One completion to generate: chat `messages` or raw `prompt_token_ids`, never both."""

    messages: tuple[Message, ...] | None = None
    prompt_token_ids: tuple[int, ...] | None = None
    params: SamplingParams = field(default_factory=SamplingParams)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt_token_ids is None):
            raise ValueError("a request needs exactly one of messages or prompt_token_ids")
        if self.messages is not None:
            messages = tuple(dict(m) for m in self.messages)
            for message in messages:
                if "role" not in message or "content" not in message:
                    raise ValueError(f"a message needs a role and a content, got {message!r}")
            if not messages:
                raise ValueError("messages must not be empty")
            object.__setattr__(self, "messages", messages)
        else:
            ids = tuple(int(t) for t in self.prompt_token_ids or ())
            if not ids:
                raise ValueError("prompt_token_ids must not be empty")
            object.__setattr__(self, "prompt_token_ids", ids)

    @classmethod
    def chat(
        cls, messages: Sequence[Message], params: SamplingParams | None = None
    ) -> "GenerationRequest":
        return cls(messages=tuple(messages), params=params or SamplingParams())

    @classmethod
    def tokens(
        cls, prompt_token_ids: Sequence[int], params: SamplingParams | None = None
    ) -> "GenerationRequest":
        return cls(prompt_token_ids=tuple(prompt_token_ids), params=params or SamplingParams())


@dataclass(frozen=True)
class GenerationResult:
    """One completion.

    `token_ids`/`logprobs` are None only where the backend could not get them (a hosted
    endpoint that returns neither); `logprobs` is None unless the request asked for them.
    `completion_tokens` counts every sampled token (what the server billed), including the
    tokens of a cut-off stop string, so it can exceed `len(token_ids)`.
    """

    text: str
    token_ids: tuple[int, ...] | None
    logprobs: tuple[float, ...] | None
    finish_reason: FinishReason
    stop_string: str | None  # the stop string that ended generation, if one did
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    model: str
    prompt_token_ids: tuple[int, ...] | None = None


class Backend(ABC):
    """Generates completions for a batch of requests, results in request order."""

    model_id: str

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Results for `requests`, in order; raises BackendError when one fails."""

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """`generate` from async code; backends with real concurrency override it."""
        return await asyncio.to_thread(self.generate, list(requests))

    def generate_one(self, request: GenerationRequest) -> GenerationResult:
        return self.generate([request])[0]

    def close(self) -> None:
        """Release what the backend holds (connections, a model); the default holds nothing."""
        return None

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def stop_cut(pieces: Sequence[str], stops: Sequence[str]) -> tuple[int, int, str] | None:
    """Where to cut a completion that ended by completing a stop string.

    `pieces` are the texts of the generated tokens, one per token, the last of which
    completed the stop string. Returns (tokens to keep, characters of the first dropped
    token that came before the stop string, the stop string), or None when no stop string
    is in the pieces. Walks back from the end only, so odd pieces earlier (a multi-byte
    character split across tokens) do not matter.
    """
    tail = ""
    for start in range(len(pieces) - 1, -1, -1):
        tail = pieces[start] + tail
        found = [(tail.find(s), s) for s in stops if s in tail]
        if found:
            before, stop = min(found)
            return start, before, stop
    return None
