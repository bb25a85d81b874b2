"""The in-process backend on the real embedded SmolLM2 checkpoint.

Slow: the checkpoint build (~25 s) plus ~150 generated tokens. One torch thread: with two
on a loaded 2-core machine generation collapsed from ~8 to ~1 token/s (measured here).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from agents.backends import GenerationRequest, SamplingParams
from agents.backends.transformers_backend import TransformersBackend

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
STORY = [SYSTEM, {"role": "user", "content": "Write a short story about a sailor."}]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend(embedded_path: Path) -> Iterator[TransformersBackend]:
    threads = torch.get_num_threads()
    with TransformersBackend(embedded_path, threads=1) as loaded:
        yield loaded
    torch.set_num_threads(threads)


def chat(messages: list[dict[str, str]], **params: object) -> GenerationRequest:
    return GenerationRequest.chat(messages, SamplingParams(**params))  # type: ignore[arg-type]


def test_chat_template_is_applied(backend: TransformersBackend) -> None:
    request = chat(STORY, max_tokens=1)
    prompt = backend.prompt_token_ids(request)
    text = backend.tokenizer.decode(prompt)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWrite a short story about a sailor.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    result = backend.generate_one(request)
    assert result.prompt_token_ids == tuple(prompt)
    assert result.prompt_tokens == len(prompt)


def test_greedy_is_deterministic_and_token_in_matches_chat(backend: TransformersBackend) -> None:
    first = backend.generate_one(chat(STORY, max_tokens=16))
    second = backend.generate_one(chat(STORY, max_tokens=16))
    assert first.text
    assert first.token_ids == second.token_ids
    assert first.text == second.text
    assert first.finish_reason == "length"
    assert first.completion_tokens == 16
    assert first.logprobs is None  # not asked for
    assert first.prompt_token_ids is not None
    raw = GenerationRequest.tokens(first.prompt_token_ids, SamplingParams(max_tokens=16))
    assert backend.generate_one(raw).token_ids == first.token_ids


def test_stop_string_cuts_text_and_token_ids(backend: TransformersBackend) -> None:
    full = backend.generate_one(chat(STORY, max_tokens=32))
    assert full.token_ids is not None
    # A stop string that starts inside the greedy output: the second word of its second half.
    words = full.text.split()
    stop = words[len(words) // 2 + 1]
    cut = backend.generate_one(chat(STORY, max_tokens=32, stop=(stop,), logprobs=True))
    assert cut.finish_reason == "stop"
    assert cut.stop_string == stop
    assert stop not in cut.text
    assert full.text.startswith(cut.text)
    assert len(cut.text) <= full.text.index(stop)
    assert cut.token_ids is not None
    assert cut.logprobs is not None
    assert full.token_ids[: len(cut.token_ids)] == cut.token_ids
    assert backend.tokenizer.decode(list(cut.token_ids)) == cut.text
    assert len(cut.logprobs) == len(cut.token_ids) < cut.completion_tokens <= 32


def test_logprobs_match_a_forward_pass(backend: TransformersBackend) -> None:
    result = backend.generate_one(chat(STORY, max_tokens=16, logprobs=True))
    assert result.token_ids is not None
    assert result.logprobs is not None
    assert result.prompt_token_ids is not None
    assert len(result.logprobs) == len(result.token_ids) == 16
    assert all(lp <= 0 for lp in result.logprobs)
    sequence = torch.tensor([list(result.prompt_token_ids) + list(result.token_ids)])
    with torch.inference_mode():
        logits = backend.model(sequence).logits[0].float()
    start = len(result.prompt_token_ids)
    expected = torch.log_softmax(logits[start - 1 : -1], dim=-1)
    expected = expected.gather(1, torch.tensor(result.token_ids).unsqueeze(1)).squeeze(1)
    assert torch.allclose(expected, torch.tensor(result.logprobs), atol=1e-3)
    # Greedy picks the most likely token: its log-prob is the row's maximum.
    assert torch.allclose(expected, torch.log_softmax(logits[start - 1 : -1], -1).max(-1).values)


def test_end_of_turn_token_stays_in_ids_not_text(backend: TransformersBackend) -> None:
    question = [SYSTEM, {"role": "user", "content": "What is 2+2? Answer with one number."}]
    result = backend.generate_one(chat(question, max_tokens=32))
    assert result.finish_reason == "stop"
    assert result.stop_string is None
    assert result.token_ids is not None
    assert result.token_ids[-1] in backend.eos_token_ids
    assert "<|im_end|>" not in result.text
    assert result.text.strip()


def test_seeded_sampling_repeats(backend: TransformersBackend) -> None:
    sampled = [
        backend.generate_one(chat(STORY, max_tokens=8, temperature=1.0, top_p=0.95, seed=seed))
        for seed in (1, 1, 2)
    ]
    assert sampled[0].token_ids == sampled[1].token_ids
    assert sampled[0].token_ids != sampled[2].token_ids
