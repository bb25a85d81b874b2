"""A paradigm's own tags in a model turn (`<summary>`, `<report>`, `<fold>`), found before the
turn is parsed in the reference format.

A paradigm block is located by where it starts: inside a `<think>` span (a `<think>…</think>`
pair, an unclosed `<think>` to the end, or the leading `…</think>` of a turn whose template
prefilled `<think>`) or outside. Every complete block is cut out before `parse_turn` reads the
rest, so a report or summary that quotes `<answer>` or `<tool_call>` can never end the
episode or start a call. The turn's kept content is the whole turn (blocks included) up to a
hallucinated `<tool_response>`, so a block written after one is never seen.
"""

import re
from dataclasses import dataclass, replace

from agents.format import THINK_CLOSE, THINK_OPEN, ParsedTurn, Violation, parse_turn

_THINK_TAG = re.compile(r"<(/?)think>")


@dataclass(frozen=True)
class TaggedTurn:
    """A turn parsed in the reference format, with the bodies of one paradigm tag."""

    parsed: ParsedTurn  # `content` is the whole kept turn, the tag's blocks included
    outside: tuple[str, ...]  # bodies (stripped) of blocks outside <think>, in order
    in_think: tuple[str, ...]  # bodies (stripped) of blocks inside <think>, in order


def think_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) character spans of the thinking in `text`."""
    spans: list[tuple[int, int]] = []
    position = 0
    first = _THINK_TAG.search(text)
    if first and first.group(1) == "/":  # the chat template opened <think> for the model
        spans.append((0, first.end()))
        position = first.end()
    while (start := text.find(THINK_OPEN, position)) != -1:
        close = text.find(THINK_CLOSE, start + len(THINK_OPEN))
        end = len(text) if close == -1 else close + len(THINK_CLOSE)
        spans.append((start, end))
        position = end
    return spans


def find_blocks(text: str, tag: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """The bodies of complete `<tag>…</tag>` blocks outside and inside <think>, and the
    text with every such block cut out."""
    spans = think_spans(text)
    outside: list[str] = []
    in_think: list[str] = []
    pieces: list[str] = []
    position = 0
    for match in re.finditer(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL):
        thinking = any(start <= match.start() < end for start, end in spans)
        (in_think if thinking else outside).append(match.group(1).strip())
        pieces.append(text[position : match.start()])
        position = match.end()
    pieces.append(text[position:])
    return tuple(outside), tuple(in_think), "".join(pieces)


def strip_think(text: str) -> str:
    """`text` without its thinking, stripped (what a turn says outside <think>)."""
    pieces: list[str] = []
    position = 0
    for start, end in think_spans(text):
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    return "".join(pieces).strip()


def thinking(text: str) -> str | None:
    """The text of `text`'s thinking spans (tags removed), or None when it has none."""
    parts = [text[start:end] for start, end in think_spans(text)]
    body = "\n\n".join(
        part.removeprefix(THINK_OPEN).removesuffix(THINK_CLOSE).strip() for part in parts
    )
    return body or None


def parse_tagged_turn(text: str, tag: str) -> TaggedTurn:
    """Parse a turn that may carry `<tag>` blocks: the blocks are taken out first, the rest
    is parsed with `parse_turn`, and the kept content stays the whole turn."""
    whole = parse_turn(text)  # cuts a hallucinated <tool_response> and what follows it
    outside, in_think, rest = find_blocks(whole.content, tag)
    if not outside and not in_think:
        return TaggedTurn(whole, (), ())
    if not rest.strip():  # only blocks: `whole` already says "neither a call nor an answer"
        return TaggedTurn(whole, outside, in_think)
    parsed = parse_turn(rest)
    hallucinated = tuple(v for v in whole.violations if v is Violation.HALLUCINATED_TOOL_RESPONSE)
    parsed = replace(
        parsed,
        content=whole.content,
        violations=hallucinated + parsed.violations,
        dropped_chars=whole.dropped_chars,
    )
    return TaggedTurn(parsed, outside, in_think)
