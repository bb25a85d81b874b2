"""Open the backend a run is configured for: a local vLLM server (the default for batch
generation), an in-process transformers model (the fallback), or any OpenAI endpoint.

`open_backend` is a context manager: a vLLM server it started is stopped on exit (one it
adopted from an earlier run with the same settings is left running for the next), and an
in-process model is released.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.backends.base import Backend
from agents.backends.openai_backend import OpenAIBackend, OpenAIConfig

BACKEND_KINDS = ("vllm", "transformers", "endpoint")


@contextmanager
def open_backend(
    kind: str,
    checkpoint: str | Path | None = None,
    *,
    endpoint: str | None = None,
    model: str | None = None,
    max_concurrency: int = 16,
    server_settings: object | None = None,
    server: object | None = None,
    threads: int = 1,
) -> Iterator[Backend]:
    """The backend of `kind` for `checkpoint` (or `endpoint` and `model`), open while in use.

    For vllm, `server` is a prepared (not started) `VllmServer`, as the Dagster resource
    makes one; otherwise one is made for `checkpoint` with `server_settings`.
    """
    if kind not in BACKEND_KINDS:
        raise ValueError(f"unknown backend {kind!r}; choose one of {', '.join(BACKEND_KINDS)}")
    if kind == "endpoint":
        if not endpoint or not model:
            raise ValueError("the endpoint backend needs an endpoint URL and a model name")
        with OpenAIBackend(
            OpenAIConfig(base_url=endpoint, model=model, max_concurrency=max_concurrency)
        ) as backend:
            yield backend
        return
    if checkpoint is None:
        raise ValueError(f"the {kind} backend needs a checkpoint directory")
    if kind == "transformers":
        from agents.backends.transformers_backend import TransformersBackend

        with TransformersBackend(checkpoint, threads=threads) as backend:
            yield backend
        return
    from agents.vllm_server import ServerSettings, VllmServer

    if not isinstance(server, VllmServer):
        settings = server_settings if isinstance(server_settings, ServerSettings) else None
        server = VllmServer(checkpoint, settings)
    with server as running:
        config = running.openai_config(max_concurrency=max_concurrency)
        with OpenAIBackend(config) as backend:
            yield backend
