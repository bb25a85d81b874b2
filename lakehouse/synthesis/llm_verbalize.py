"""The optional LLM verbalizer: rewrite a templated question without changing its meaning.

Any OpenAI-compatible endpoint rewrites up to `max_questions` templated questions into
fluent English. A rewrite is accepted only when it keeps every name the templated question
shows (the constants a solver starts from, obfuscated phrases included), does not name the
answer, and is one question of reasonable length; otherwise the template's question stays
and the outcome is counted. Accepted rewrites record the model, the prompt template's hash
and the sampling parameters on the task. The spec, and so the answer, never change.
"""

import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import httpx

from lakehouse.ids import sha256_hex
from lakehouse.knowledge.llm_relations import API_KEY_ENV_VAR, EndpointError, chat_completion
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.spec import constants
from lakehouse.synthesis.tasks import Task
from lakehouse.synthesis.verify import mentions_answer

PROMPT_VERSION = "llm-verbalize-1"
SYSTEM_PROMPT = """You rewrite quiz questions so they read naturally.
Keep the meaning exactly: every condition, every name and every number must stay.
Do not add facts, do not answer, do not give hints. Answer with the rewritten question only."""
USER_TEMPLATE = "Question: {question}"
PROMPT_HASH = sha256_hex(f"{PROMPT_VERSION}\n{SYSTEM_PROMPT}\n{USER_TEMPLATE}")
MAX_LENGTH_RATIO = 1.6  # a rewrite much longer than the template added something


@dataclass(frozen=True)
class VerbalizerSettings:
    """Where the endpoint is and how it is asked (the fields chat_completion reads)."""

    endpoint: str
    model: str
    max_questions: int = 200
    temperature: float = 0.3
    max_tokens: int = 160
    timeout_seconds: float = 60.0
    retries: int = 2
    concurrency: int = 4

    def sampling(self) -> dict[str, float | int]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


def kept_names(task: Task, graph: KnowledgeGraph) -> list[str]:
    """The names the templated question shows that a rewrite must keep."""
    shown = [graph.name(entity_id) for entity_id in constants(task.draft.spec)]
    shown += [o.get("shown", "") for o in task.draft.obfuscations]
    return [name for name in dict.fromkeys(shown) if name and name in task.draft.question]


def accept_rewrite(task: Task, graph: KnowledgeGraph, rewrite: str) -> str | None:
    """Why a rewrite is refused (None: accepted)."""
    text = rewrite.strip()
    if not text.endswith("?") or text.count("?") != 1:
        return "not_one_question"
    if len(text) > MAX_LENGTH_RATIO * len(task.draft.question):
        return "too_long"
    if any(name not in text for name in kept_names(task, graph)):
        return "dropped_a_name"
    if mentions_answer(text, task, graph):
        return "names_the_answer"
    return None


def rewrite_questions(
    tasks: list[Task], graph: KnowledgeGraph, settings: VerbalizerSettings
) -> dict[str, int]:
    """Rewrite the first `max_questions` tasks' questions in place; outcome counts.

    EndpointError when every request fails (the endpoint is unusable).
    """
    chosen = tasks[: settings.max_questions]
    headers = {}
    if os.environ.get(API_KEY_ENV_VAR):
        headers["Authorization"] = f"Bearer {os.environ[API_KEY_ENV_VAR]}"
    outcomes: Counter = Counter()

    def ask(client: httpx.Client, task: Task) -> str | Exception:
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_TEMPLATE.format(question=task.draft.question)},
        ]
        try:
            return chat_completion(client, settings, messages)
        except (EndpointError, httpx.HTTPStatusError, KeyError, ValueError) as error:
            return error

    with (
        httpx.Client(timeout=settings.timeout_seconds, headers=headers) as client,
        ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as pool,
    ):
        answers = list(pool.map(lambda task: ask(client, task), chosen))
    sampling = json.dumps(settings.sampling(), sort_keys=True)
    for task, answer in zip(chosen, answers, strict=True):
        if isinstance(answer, Exception):
            outcomes["endpoint_error"] += 1
            continue
        refused = accept_rewrite(task, graph, answer)
        if refused:
            outcomes[refused] += 1
            continue
        task.draft.question = answer.strip()
        task.draft.verbalizer = "llm"
        task.draft.verbalizer_model = settings.model
        task.draft.prompt_hash = PROMPT_HASH
        task.draft.sampling = sampling
        outcomes["accepted"] += 1
    if chosen and outcomes["endpoint_error"] == len(chosen):
        raise EndpointError(f"every request to {settings.endpoint} failed")
    return dict(outcomes)


def settings_record(settings: VerbalizerSettings) -> dict:
    """The settings as recorded in asset metadata (the endpoint's key never is)."""
    return {**asdict(settings), "prompt_version": PROMPT_VERSION, "prompt_hash": PROMPT_HASH}
