"""The reference agent's message format: tags, a robust parser of one model turn, and the
rendering of tool output that crawled text cannot break out of.

A model turn is `<think>…</think>` followed by exactly one of
`<tool_call>{"name": …, "arguments": {…}}</tool_call>` or `<answer>…</answer>`. Tool results
go back in a user turn as `<tool_response>\\n…\\n</tool_response>`, and generation stops at
`<tool_response>` (`STOP_STRINGS`), so a model never writes a tool's result itself.

`parse_turn` reads ONE generated assistant turn, never a whole conversation: tool output and
user text are not parsed, so nothing a crawled page says can end an episode or start a call.
Inside a block every other tag is plain text (a `<think>` may mention `<answer>`); a block
that opens its own tag again before closing is unclosed. A turn that starts inside the
thinking (`…</think>` with no `<think>`, as chat templates that prefill `<think>` produce) is
accepted.

Injection safety (`neutralize_tags`, `render_tool_response`): in tool output, the `<` that
starts any of the format's tags (`think`, `tool_call`, `tool_response`, `answer`, and the system
prompt's `tools`; any case, with spaces, a slash or attributes) and the `<` of
ChatML-like special tokens (`<|im_start|>`, `<|im_end|>`, `<|endoftext|>`) is replaced by the
HTML entity `&lt;`. The text stays readable and nothing else changes; the replacement is one
way (never unescaped), so a page that already contains `&lt;answer>` is harmless as well.
"""

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import json5

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
TOOL_RESPONSE_OPEN, TOOL_RESPONSE_CLOSE = "<tool_response>", "</tool_response>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
# The reference agent's `stop=` list: a model that starts writing a result is cut there.
STOP_STRINGS = ("\n<tool_response>", "<tool_response>")
# Tool results go back in a user turn, as in the reference agent (ChatML has no tool role).
TOOL_RESPONSE_ROLE = "user"

# Sent as the last user turn when the context is full (the reference agent's wording, in
# substance): no more tool calls, answer now in the format.
FORCE_FINAL_ANSWER_PROMPT = (
    "You have now reached the maximum context length you can handle. Stop making tool calls "
    "and, based on all the information above, think again and give the answer you consider "
    "most likely, in this format:<think>your final thinking</think>\n<answer>your answer</answer>"
)


class Termination(StrEnum):
    """Why an episode ended."""

    ANSWER = "answer"  # the model gave an <answer>
    MAX_TURNS = "max_turns"  # the turn budget ran out
    CONTEXT_LIMIT = "context_limit"  # the context filled (after the forced final answer)
    TIME_LIMIT = "time_limit"  # the wall-clock budget ran out
    ERROR = "error"  # the backend or a tool failed beyond retries


class FormatError(StrEnum):
    """Why a turn could not be used; the turn's `error` says it to the model in words."""

    EMPTY = "empty"
    UNCLOSED_TAG = "unclosed_tag"
    STRAY_CLOSING_TAG = "stray_closing_tag"
    NO_ACTION = "no_action"  # neither a tool call nor an answer
    MULTIPLE_CALLS = "multiple_calls"
    MULTIPLE_ANSWERS = "multiple_answers"
    CALL_AND_ANSWER = "call_and_answer"
    EMPTY_ANSWER = "empty_answer"
    BAD_JSON = "bad_json"
    BAD_CALL = "bad_call"  # JSON, but not {"name": str, "arguments": object}


class Violation(StrEnum):
    """A format violation that does not make the turn unusable; counted by the runtime."""

    HALLUCINATED_TOOL_RESPONSE = "hallucinated_tool_response"  # text from it on is ignored
    MISSING_THINK = "missing_think"


@dataclass(frozen=True)
class ToolCall:
    """One tool call as the model wrote it (arguments not yet validated)."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ParsedTurn:
    """One model turn: its thinking and either a tool call, an answer or a format error.

    `content` is the text the runtime keeps in the conversation: the turn up to a
    hallucinated `<tool_response>` (if any), stripped; `dropped_chars` were cut after it.
    """

    content: str
    think: str | None = None
    tool_call: ToolCall | None = None
    answer: str | None = None
    error_kind: FormatError | None = None
    error: str | None = None  # the reason, addressed to the model
    violations: tuple[Violation, ...] = field(default=())
    dropped_chars: int = 0

    @property
    def ok(self) -> bool:
        """True when the turn is a usable tool call or answer."""
        return self.error_kind is None


_FORMAT_REMINDER = (
    "Think inside <think></think>, then either call exactly one tool with "
    '<tool_call>{"name": "<tool name>", "arguments": {...}}</tool_call> '
    "or give the final answer inside <answer></answer>."
)
_CALL_EXAMPLE = '<tool_call>{"name": "search", "arguments": {"query": ["..."]}}</tool_call>'
_TAG = re.compile(r"<(/?)(think|tool_call|answer)>")
_HALLUCINATED = re.compile(r"</?tool_response>")
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(?P<body>.*?)\s*```$", re.DOTALL)
_CODE_BLOCK = re.compile(r"<code>\s*\n?(?P<code>.*?)\s*</code>", re.DOTALL)
# `<` of the format's tags (and the system prompt's <tools>) and of special tokens.
_INJECTABLE = re.compile(
    r"<(?=\s*/?\s*(?:think|tool_call|tool_response|answer|tools)\b)|<(?=\|)",
    re.IGNORECASE,
)
_ESCAPED_LT = "&lt;"


def parse_turn(text: str) -> ParsedTurn:
    """Parse one generated assistant turn (never tool or user text) into a `ParsedTurn`.

    Errors come with a reason the runtime can send back to the model; a hallucinated tool
    response is cut off and flagged, and the text before it is parsed as usual.
    """
    violations: list[Violation] = []
    dropped = 0
    cut = _HALLUCINATED.search(text)
    if cut:
        dropped = len(text) - cut.start()
        text = text[: cut.start()]
        violations.append(Violation.HALLUCINATED_TOOL_RESPONSE)
    content = text.strip()

    def failed(kind: FormatError, reason: str) -> ParsedTurn:
        return ParsedTurn(
            content=content,
            error_kind=kind,
            error=f"Format error: {reason} {_FORMAT_REMINDER}",
            violations=tuple(violations),
            dropped_chars=dropped,
        )

    if not content:
        if violations:
            return failed(
                FormatError.NO_ACTION,
                "the response starts with <tool_response>; tool results are written by the "
                "system, never by you.",
            )
        return failed(FormatError.EMPTY, "the response is empty.")

    blocks, problem = _split_blocks(content)
    if problem is not None:
        return failed(*problem)
    think_parts = [body for tag, body in blocks if tag == "think"]
    calls = [body for tag, body in blocks if tag == "tool_call"]
    answers = [body for tag, body in blocks if tag == "answer"]
    if not think_parts:
        violations.append(Violation.MISSING_THINK)
    if calls and answers:
        return failed(
            FormatError.CALL_AND_ANSWER,
            "the response has both a tool call and an answer; do one or the other.",
        )
    if len(calls) > 1:
        return failed(
            FormatError.MULTIPLE_CALLS,
            f"the response has {len(calls)} tool calls; make exactly one tool call per turn.",
        )
    if len(answers) > 1:
        return failed(
            FormatError.MULTIPLE_ANSWERS,
            f"the response has {len(answers)} <answer> blocks; give one final answer.",
        )
    if not calls and not answers:
        return failed(FormatError.NO_ACTION, "the response has neither a tool call nor an answer.")

    think = "\n\n".join(part.strip() for part in think_parts) if think_parts else None
    if answers:
        answer = answers[0].strip()
        if not answer:
            return failed(FormatError.EMPTY_ANSWER, "the <answer> block is empty.")
        return ParsedTurn(
            content=content,
            think=think,
            answer=answer,
            violations=tuple(violations),
            dropped_chars=dropped,
        )
    call, problem = _parse_call(calls[0])
    if problem is not None:
        return failed(*problem)
    return ParsedTurn(
        content=content,
        think=think,
        tool_call=call,
        violations=tuple(violations),
        dropped_chars=dropped,
    )


def _split_blocks(text: str) -> tuple[list[tuple[str, str]], tuple[FormatError, str] | None]:
    """The (tag, body) blocks of a turn in order, or the first structural problem."""
    blocks: list[tuple[str, str]] = []
    position = 0
    while match := _TAG.search(text, position):
        closing, tag = match.group(1) == "/", match.group(2)
        if closing:
            if tag == "think" and position == 0:
                blocks.append(("think", text[: match.start()]))  # the prompt opened <think>
                position = match.end()
                continue
            return blocks, (
                FormatError.STRAY_CLOSING_TAG,
                f"</{tag}> appears without a matching <{tag}>.",
            )
        end = text.find(f"</{tag}>", match.end())
        reopened = text.find(f"<{tag}>", match.end())
        if end == -1 or -1 < reopened < end:
            return blocks, (
                FormatError.UNCLOSED_TAG,
                f"<{tag}> is opened but not closed with </{tag}>.",
            )
        blocks.append((tag, text[match.end() : end]))
        position = end + len(f"</{tag}>")
    return blocks, None


def _parse_call(body: str) -> tuple[ToolCall | None, tuple[FormatError, str] | None]:
    """A `ToolCall` from the text inside <tool_call>, tolerating JSON5 and code fences.

    The reference agent's python form, `{"name": "python", "arguments": {}}` followed by
    `<code>…</code>` inside the call, becomes `arguments["code"]`.
    """
    text = body.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group("body").strip()
    code = None
    if code_block := _CODE_BLOCK.search(text):
        rest = (text[: code_block.start()] + text[code_block.end() :]).strip()
        value, detail = loads_lenient(rest)
        code = code_block.group("code") if detail is None else None
    if code is None:  # no code block, or one inside the JSON (say, in a string)
        value, detail = loads_lenient(text)
    if detail is not None:
        return None, (
            FormatError.BAD_JSON,
            f"the tool call is not valid JSON ({detail}). Write it as {_CALL_EXAMPLE}.",
        )
    if not isinstance(value, dict):
        return None, (
            FormatError.BAD_CALL,
            f"the tool call must be a JSON object, not {json_type_name(value)}.",
        )
    name, arguments = value.get("name"), value.get("arguments")
    if isinstance(arguments, str):  # OpenAI-style: arguments as a JSON string
        decoded, _ = loads_lenient(arguments)
        arguments = decoded if isinstance(decoded, dict) else arguments
    if arguments is None and code is not None:
        arguments = {}
    if not isinstance(name, str) or not name.strip():
        return None, (FormatError.BAD_CALL, 'the tool call needs a "name" string.')
    if not isinstance(arguments, dict):
        got = "no arguments" if arguments is None else json_type_name(arguments)
        return None, (
            FormatError.BAD_CALL,
            f'the tool call needs an "arguments" object; got {got}.',
        )
    if code is not None and "code" not in arguments:
        arguments = {**arguments, "code": code}
    return ToolCall(name=name.strip(), arguments=arguments), None


def loads_lenient(text: str) -> tuple[Any, str | None]:
    """Strict JSON, then JSON5 (single quotes, trailing commas, unquoted keys), then the
    outermost {...} in the text; the value, or the strict parser's complaint."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        complaint = f"{error.msg} at line {error.lineno} column {error.colno}"
    except RecursionError:
        return None, "nested too deeply"
    candidates = [text]
    start, end = text.find("{"), text.rfind("}")
    if -1 < start < end and (start, end) != (0, len(text) - 1):
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json5.loads(candidate), None
        except (ValueError, RecursionError):  # json5 raises ValueError on any syntax error
            continue
    return None, complaint


def json_type_name(value: Any) -> str:
    """A JSON type name with its article, for messages to the model."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def neutralize_tags(text: str) -> str:
    """`text` with the `<` of every format tag and special token replaced by `&lt;`, so it
    can sit inside a turn without closing, opening or ending anything."""
    return _INJECTABLE.sub(_ESCAPED_LT, text)


def render_tool_response(output: str) -> str:
    """A tool's output as the `<tool_response>` block the runtime appends, neutralized."""
    return f"{TOOL_RESPONSE_OPEN}\n{neutralize_tags(output)}\n{TOOL_RESPONSE_CLOSE}"


def render_format_error(error: str) -> str:
    """The runtime's own reply to a malformed turn, in a `<tool_response>` block.

    Not neutralized: the text is the parser's (`ParsedTurn.error`, which never quotes the
    model's turn), and its reminder must show the real tags, `<think>` and `<tool_call>`,
    or the model is taught to write `&lt;think>`."""
    return f"{TOOL_RESPONSE_OPEN}\n{error}\n{TOOL_RESPONSE_CLOSE}"
