"""The LLM judge against a scripted chat-completions server on 127.0.0.1 (no model)."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from agents.backends import BackendError
from evaluation.judge import (
    NO_ALIASES,
    PROMPT_VERSION,
    PROMPTS,
    UNPARSEABLE,
    JudgeItem,
    JudgeReplyError,
    JudgeSettings,
    judge,
    judge_batch,
    judge_hash,
    judge_messages,
    parse_judge_reply,
    settings_record,
)
from tests.loopback import QuietHandler, serve

GOOD = "VERDICT: CORRECT\nREASON: The prediction names the same city."
BAD = "VERDICT: INCORRECT\nREASON: The prediction names another city."


def chat_reply(content: str) -> dict[str, Any]:
    return {
        "model": "judge-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62},
    }


def predicted(body: dict[str, Any]) -> str:
    """The predicted answer in a judge request's user message."""
    user = body["messages"][-1]["content"]
    return user.split("Predicted answer: ", 1)[1]


@dataclass
class Script:
    """The server's answer to each request: `reply(body)` → (status, JSON payload)."""

    reply: Callable[[dict[str, Any]], tuple[int, Any]]
    delay_s: float = 0.0
    seen: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def script() -> Script:
    # CORRECT for "Madrid", a malformed reply for "Toledo", INCORRECT otherwise.
    def reply(body: dict[str, Any]) -> tuple[int, Any]:
        answer = predicted(body)
        if answer == "Toledo":
            return 200, chat_reply("I am not sure what to say about this one.")
        return 200, chat_reply(GOOD if answer == "Madrid" else BAD)

    return Script(reply=reply)


@pytest.fixture
def settings(script: Script) -> Iterator[JudgeSettings]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with script.lock:
                script.seen.append({"path": self.path, **body})
                script.in_flight += 1
                script.max_in_flight = max(script.max_in_flight, script.in_flight)
            try:
                time.sleep(script.delay_s)
                status, payload = script.reply(body)
                self.send_json(status, payload)
            finally:
                with script.lock:
                    script.in_flight -= 1

    with serve(Handler) as url:
        yield JudgeSettings(endpoint=f"{url}/v1", model="judge-model", api_key_env=None)


QUESTION = "What is the capital of the country whose flag is red and yellow with a crest?"


def test_a_correct_answer(settings, script):
    result = judge(QUESTION, "Madrid", "Madrid", ["Madrid, Spain"], settings)
    assert (result.correct, result.method, result.score, result.f1, result.coverage) == (
        True,
        "judge",
        1.0,
        1.0,
        1.0,
    )
    assert result.reason == GOOD  # the judge's raw reply
    (request,) = script.seen
    assert request["path"] == "/v1/chat/completions"
    assert request["model"] == "judge-model"
    assert request["temperature"] == 0.0
    assert request["max_tokens"] == settings.max_tokens
    assert "top_k" not in request  # no vLLM extensions by default: a hosted API accepts it
    system, user = (message["content"] for message in request["messages"])
    assert system == PROMPTS[PROMPT_VERSION][0]
    assert user == (
        f"Question: {QUESTION}\nGold answer: Madrid\nAlso accepted: Madrid, Spain\n"
        "Predicted answer: Madrid"
    )


def test_an_incorrect_answer_keeps_token_f1_as_partial_credit(settings):
    result = judge(QUESTION, "Madrid Barajas", "Madrid", [], settings)
    # "Madrid Barajas" is not "Madrid" for the script; token F1: P 1/2, R 1 → 2/3
    assert (result.correct, result.method, result.score, result.coverage) == (
        False,
        "judge",
        0.0,
        0.0,
    )
    assert result.f1 == pytest.approx(2 / 3)
    assert result.reason == BAD


def test_a_malformed_reply_is_an_unparseable_incorrect_verdict(settings):
    result = judge(QUESTION, "Toledo", "Madrid", [], settings)
    assert not result.correct
    assert result.method == "judge"
    assert result.reason.startswith(UNPARSEABLE)
    assert "I am not sure what to say" in result.reason


def test_empty_predictions_are_not_sent(settings, script):
    assert judge(QUESTION, "", "Madrid", [], settings).reason == "empty prediction"
    assert judge(QUESTION, None, "Madrid", None, settings).reason == "no prediction"
    assert judge(QUESTION, " ?! ", "Madrid", [], settings).reason == "empty prediction"
    assert script.seen == []


def test_a_batch_keeps_order_and_runs_concurrently(settings, script):
    script.delay_s = 0.3
    items = [
        JudgeItem(QUESTION, "Madrid", "Madrid"),
        JudgeItem(QUESTION, "Barcelona", "Madrid", ("Madrid, Spain",)),
        JudgeItem(QUESTION, "", "Madrid"),
        JudgeItem(QUESTION, "Toledo", "Madrid"),
        JudgeItem(QUESTION, "Madrid", "Madrid"),
    ]
    results = judge_batch(items, settings)
    assert [r.correct for r in results] == [True, False, False, False, True]
    assert [r.reason[:10] for r in results] == [
        GOOD[:10],
        BAD[:10],
        "empty pred",
        UNPARSEABLE[:10],
        GOOD[:10],
    ]
    assert len(script.seen) == 4  # the empty prediction was not asked
    assert script.max_in_flight > 1


def test_an_endpoint_error_raises_naming_the_endpoint(settings, script):
    script.reply = lambda body: (400, {"error": "model not found"})
    with pytest.raises(BackendError, match=r"/v1/chat/completions: HTTP 400"):
        judge(QUESTION, "Madrid", "Madrid", [], settings)


def test_a_response_without_choices_raises(settings, script):
    script.reply = lambda body: (200, {"object": "error"})
    with pytest.raises(BackendError, match="no choices"):
        judge(QUESTION, "Madrid", "Madrid", [], settings)


@pytest.mark.parametrize(
    ("reply", "correct"),
    [
        ("VERDICT: CORRECT\nREASON: Same city.", True),
        ("VERDICT: INCORRECT\nREASON: Another city.", False),
        ("**Verdict:** incorrect\n**Reason:** Another city.", False),
        ("verdict - correct", True),
        ("Let me compare.\nVERDICT: CORRECT\nREASON: Same.", True),
        ("CORRECT. The prediction names the same city.", True),
        ("Incorrect: wrong city.", False),
        ("The prediction names the same city, so it is CORRECT.", True),
        ("<think>Is it CORRECT? No, INCORRECT.</think>\nVERDICT: INCORRECT", False),
        ("Both agree.</think>\nVERDICT: CORRECT", True),  # the opening tag was in the prompt
        ("The prediction is not correct.\nVERDICT: INCORRECT", False),
    ],
)
def test_parse_judge_reply(reply, correct):
    assert parse_judge_reply(reply) is correct


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I cannot tell.",
        "It could be CORRECT or INCORRECT.",  # both words, no VERDICT line
        "<think>It is CORRECT, I believe",  # cut off inside the reasoning
        "The answer is correctly spelled.",  # "correctly" is not the verdict word
    ],
)
def test_unparseable_judge_replies(reply):
    with pytest.raises(JudgeReplyError, match=UNPARSEABLE):
        parse_judge_reply(reply)


def test_judge_messages_without_aliases():
    item = JudgeItem(" Which city? ", " Madrid ", "Madrid")
    _, user = judge_messages(item)
    assert user["content"] == (
        f"Question: Which city?\nGold answer: Madrid\nAlso accepted: {NO_ALIASES}\n"
        "Predicted answer: Madrid"
    )


def test_judge_hash_names_the_model_and_prompt():
    first = JudgeSettings(endpoint="http://127.0.0.1:1/v1", model="a")
    assert judge_hash(first) == judge_hash(JudgeSettings(endpoint="http://other:2/v1", model="a"))
    assert judge_hash(first) != judge_hash(JudgeSettings(endpoint=first.endpoint, model="b"))
    assert judge_hash(first) != judge_hash(
        JudgeSettings(endpoint=first.endpoint, model="a", max_tokens=64)
    )
    assert len(judge_hash(first)) == 64
    record = settings_record(first)
    assert record["judge_hash"] == judge_hash(first)
    assert record["prompt_version"] == PROMPT_VERSION
    assert record["api_key_env"] == "OPENAI_API_KEY"  # the variable's name, never its value


def test_settings_are_validated():
    with pytest.raises(ValueError, match="unknown judge prompt version"):
        JudgeSettings(endpoint="http://127.0.0.1:1/v1", model="a", prompt_version="judge-0")
    with pytest.raises(ValueError, match="max_tokens"):
        JudgeSettings(endpoint="http://127.0.0.1:1/v1", model="a", max_tokens=0)
    with pytest.raises(ValueError, match="http"):
        JudgeSettings(endpoint="127.0.0.1:1", model="a")
