"""LLM backends: one interface (base.py), an OpenAI-compatible HTTP client and an in-process
transformers model. `TransformersBackend` is imported from its module (it loads torch)."""

from agents.backends.base import (
    Backend,
    BackendError,
    BackendTimeout,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    Message,
    SamplingParams,
    stop_cut,
)
from agents.backends.openai_backend import OpenAIBackend, OpenAIConfig

__all__ = [
    "Backend",
    "BackendError",
    "BackendTimeout",
    "FinishReason",
    "GenerationRequest",
    "GenerationResult",
    "Message",
    "OpenAIBackend",
    "OpenAIConfig",
    "SamplingParams",
    "stop_cut",
]
