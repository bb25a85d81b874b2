"""An LLM judge: does a predicted answer mean the gold answer of the question?

In the spirit of the reference deep-research agent's evaluation, a judge model reads the
question, the gold answer with its accepted aliases and the predicted answer, and replies
with a fixed verdict word and a one-sentence reason:

    VERDICT: CORRECT
    REASON: The prediction names the same country as the gold answer.

It is called through any OpenAI-compatible chat endpoint (`agents.backends.OpenAIBackend`,
greedy: temperature 0), many items at once with the backend's bounded concurrency. Every
verdict's `reason` is the judge's raw reply, and `judge_hash` names the judge (model,
prompt version and text, sampling) so a score records which judge gave it.

Parsing (`parse_judge_reply`) reads, after dropping any `<think>…</think>` reasoning: a
"VERDICT:" line; else a reply that starts with the verdict word; else the one verdict word
written in capitals anywhere. A reply with none of these (or both words and no VERDICT line)
is unparseable: it does not raise, but gives an incorrect verdict whose reason starts with
`UNPARSEABLE` and quotes the reply, so one bad reply in a batch of thousands costs that item
only and can be counted and re-judged. An endpoint that fails (after the backend's retries)
raises `BackendError`: a judge outage stops scoring rather than marking answers wrong.
"""

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from agents.backends import (
    Backend,
    GenerationRequest,
    OpenAIBackend,
    OpenAIConfig,
    SamplingParams,
)
from evaluation.scoring import Verdict, normalize_answer, token_f1
from lakehouse.ids import sha256_hex

log = logging.getLogger(__name__)

PROMPT_VERSION = "judge-1"
PROMPTS = {
    "judge-1": (
        """You grade answers to research questions. You are given a question, its gold answer \
(with other accepted ways to write it) and a predicted answer. Decide whether the predicted \
answer is correct, that is, whether it means the same as the gold answer.
- Ignore differences of wording, capitalization, punctuation, word order and formatting.
- A number may be written in another form or rounded, as long as it states the same value.
- A list must contain the same items as the gold list, in any order, and no others.
- A prediction that hedges between several answers, adds a wrong claim, or answers only \
part of the question is INCORRECT.
- Judge only against the gold answer, not against your own knowledge.
Reply in exactly two lines:
VERDICT: CORRECT or INCORRECT
REASON: one sentence saying why.""",
        """Question: {question}
Gold answer: {answer}
Also accepted: {aliases}
Predicted answer: {prediction}""",
    ),
}
UNPARSEABLE = "unparseable judge reply"
NO_ALIASES = "(none)"
# Two short lines are ~40 tokens; the rest leaves room for a preamble before the verdict.
DEFAULT_MAX_TOKENS = 256

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.IGNORECASE | re.DOTALL)
_VERDICT_LINE = re.compile(r"^\W*verdict\W*(correct|incorrect)\b", re.IGNORECASE | re.MULTILINE)
_LEADING_WORD = re.compile(r"^\W*(correct|incorrect)\b", re.IGNORECASE)
_CAPITAL_WORD = re.compile(r"\b(CORRECT|INCORRECT)\b")


class JudgeReplyError(ValueError):
    """A judge reply that states no verdict; the message quotes the reply."""


@dataclass(frozen=True)
class JudgeSettings:
    """Which judge model, where, and with which prompt (recorded with every score)."""

    endpoint: str  # up to and including /v1, e.g. http://127.0.0.1:8000/v1
    model: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    prompt_version: str = PROMPT_VERSION
    api_key_env: str | None = "OPENAI_API_KEY"  # sent as a bearer token when the var is set
    timeout_s: float = 120.0
    max_concurrency: int = 16
    vllm_extensions: bool = False  # a hosted API rejects vLLM's extra fields; none are needed

    def __post_init__(self) -> None:
        if self.prompt_version not in PROMPTS:
            raise ValueError(
                f"unknown judge prompt version {self.prompt_version!r}; known: {sorted(PROMPTS)}"
            )
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        self.backend_config()  # the endpoint and concurrency are checked there

    def sampling(self) -> SamplingParams:
        """Greedy decoding, so that the same judge gives the same verdicts."""
        return SamplingParams(temperature=0.0, max_tokens=self.max_tokens)

    def backend_config(self) -> OpenAIConfig:
        """The OpenAI backend configuration that reaches this judge."""
        return OpenAIConfig(
            base_url=self.endpoint,
            model=self.model,
            api_key_env=self.api_key_env,
            timeout_s=self.timeout_s,
            max_concurrency=self.max_concurrency,
            vllm_extensions=self.vllm_extensions,
        )


@dataclass(frozen=True)
class JudgeItem:
    """One answer to judge."""

    question: str
    prediction: str | None
    answer: str
    aliases: tuple[str, ...] = ()


def judge_hash(settings: JudgeSettings) -> str:
    """sha256 naming the judge: its model, prompt version and text, and sampling."""
    system, user = PROMPTS[settings.prompt_version]
    sampling = json.dumps(settings.sampling().as_record(), sort_keys=True)
    return sha256_hex("\n".join([settings.prompt_version, system, user, settings.model, sampling]))


def settings_record(settings: JudgeSettings) -> dict[str, object]:
    """The settings as recorded with scores (the name of the key variable, never the key)."""
    return {**asdict(settings), "judge_hash": judge_hash(settings)}


def judge_messages(item: JudgeItem, prompt_version: str = PROMPT_VERSION) -> list[dict[str, str]]:
    """The chat messages that ask the judge about one item."""
    system, user = PROMPTS[prompt_version]
    content = user.format(
        question=item.question.strip(),
        answer=item.answer.strip(),
        aliases=" | ".join(item.aliases) or NO_ALIASES,
        prediction=(item.prediction or "").strip(),
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def parse_judge_reply(text: str) -> bool:
    """Whether the judge said CORRECT (module docstring for the rules); JudgeReplyError
    when the reply states no verdict."""
    visible = _THINK.sub("", text)
    if "</think>" in visible.lower():  # the opening tag was in the prompt, not the reply
        visible = visible[visible.lower().rindex("</think>") + len("</think>") :]
    visible = visible.replace("*", "").strip()
    found = _VERDICT_LINE.search(visible) or _LEADING_WORD.match(visible)
    if found:
        return found.group(1).lower() == "correct"
    capitals = set(_CAPITAL_WORD.findall(visible))
    if len(capitals) == 1:
        return capitals == {"CORRECT"}
    raise JudgeReplyError(f"{UNPARSEABLE}: {text[:500]!r}")


def judge_batch(
    items: Sequence[JudgeItem], settings: JudgeSettings, backend: Backend | None = None
) -> list[Verdict]:
    """Verdicts for `items`, in order, from one batch of judge requests (at most the
    backend's concurrency in flight). An empty prediction is incorrect without asking; an
    unparseable reply is incorrect with an `UNPARSEABLE` reason (module docstring).
    `backend` defaults to an OpenAIBackend for `settings`."""
    asked = [i for i, item in enumerate(items) if normalize_answer(item.prediction or "")]
    requests = [
        GenerationRequest.chat(
            judge_messages(items[i], settings.prompt_version), settings.sampling()
        )
        for i in asked
    ]
    replies: dict[int, str] = {}
    if requests:
        if backend is None:
            with OpenAIBackend(settings.backend_config()) as own:
                results = own.generate(requests)
        else:
            results = backend.generate(requests)
        replies = {i: result.text for i, result in zip(asked, results, strict=True)}
    return [_verdict(item, replies.get(i)) for i, item in enumerate(items)]


def judge(
    question: str,
    prediction: str | None,
    answer: str,
    aliases: Sequence[str] | None,
    settings: JudgeSettings,
    backend: Backend | None = None,
) -> Verdict:
    """The judge's verdict on one predicted answer (`judge_batch` of one)."""
    item = JudgeItem(question, prediction, answer, tuple(aliases or ()))
    return judge_batch([item], settings, backend)[0]


def _verdict(item: JudgeItem, reply: str | None) -> Verdict:
    """A judge verdict, with the token F1 against the answer and aliases as partial credit."""
    if reply is None:
        reason = "no prediction" if item.prediction is None else "empty prediction"
        return Verdict(False, "judge", 0.0, 0.0, 0.0, reason)
    try:
        correct = parse_judge_reply(reply)
    except JudgeReplyError as error:
        log.warning("judge: %s", error)
        correct, reply = False, str(error)
    if correct:
        return Verdict(True, "judge", 1.0, 1.0, 1.0, reply.strip())
    f1 = token_f1(item.prediction or "", [item.answer, *item.aliases])
    return Verdict(False, "judge", 0.0, f1, 0.0, reply.strip())
