"""A scripted actor and recording tools for paradigm tests (no model, no index).

`ScriptedActor` returns its turns in order, whatever the messages, and remembers every
context it was given; `RecordingTools` answers search and visit with fixed text and
remembers the calls. Both stand in only for unit tests of the episode loop and paradigms.
"""

from collections.abc import Sequence

from agents.episode import Message, Transcript
from agents.policy import ModelTurn, Purpose


class ScriptedActor:
    """Returns `turns` one by one (by purpose, when a dict of lists is given)."""

    def __init__(self, turns: Sequence[str] | dict[Purpose, Sequence[str]]) -> None:
        if isinstance(turns, dict):
            self.turns = {purpose: list(texts) for purpose, texts in turns.items()}
        else:
            self.turns = {Purpose.ACT: list(turns)}
        self.contexts: list[tuple[Purpose, list[Message]]] = []

    async def turn(
        self, messages: list[Message], purpose: Purpose, transcript: Transcript
    ) -> ModelTurn:
        self.contexts.append((purpose, list(messages)))
        queue = self.turns.get(purpose) or self.turns[Purpose.ACT]
        if not queue:
            raise AssertionError(f"the script has no more {purpose} turns")
        text = queue.pop(0)
        ids = tuple(range(len(text.split())))
        return ModelTurn(
            text=text,
            token_ids=ids,
            logprobs=tuple(-0.5 for _ in ids),
            prompt_tokens=sum(len(m["content"].split()) for m in messages),
            completion_tokens=len(ids),
            latency_s=0.0,
            finish_reason="stop",
        )


class RecordingTools:
    """Fixed search and visit results; `calls` lists (tool, arguments) in order."""

    def __init__(self, search_text: str = "results", visit_text: str = "page text") -> None:
        self.search_text = search_text
        self.visit_text = visit_text
        self.calls: list[tuple[str, object]] = []

    def search_tool(self, queries, k=10, block=None, mode="hybrid", snippet_chars=200) -> str:
        self.calls.append(("search", list(queries)))
        return self.search_text

    def visit_tool(self, url, goal, page=0, page_chars=0, block=None) -> str:
        self.calls.append(("visit", (url, goal)))
        return self.visit_text
