"""The three tools' JSON schemas, as the reference agent declares them, and the validation of a
model's tool call against them.

- `search(query: list[str])`: a batch of queries. The reference agent's schema requires an
  array, and so does this one: a bare string is rejected with a message showing the array
  form, because trajectories become training data and should teach the declared call, not a
  form the tools only tolerate.
- `visit(url: str | list[str], goal: str)`: one URL or several, and what to look for.
- `python(code: str)`: code run in the sandbox (agents/sandbox.py); only printed output is
  returned.

Extra arguments are rejected too. Every problem is reported with the argument, what was
expected and what was given, in a text the runtime sends back as the tool response.
"""

import difflib
import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from agents.format import ToolCall, json_type_name

_NON_EMPTY_STRING = {"type": "string", "minLength": 1}


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it: name, description, argument schema and one example call."""

    name: str
    description: str
    parameters: dict[str, Any]  # a JSON schema of the "arguments" object
    example: dict[str, Any]  # valid arguments, shown when a call is malformed

    def function_json(self) -> dict[str, Any]:
        """The OpenAI-style function declaration that the system prompt lists."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def example_call(self) -> str:
        """The example as the JSON a model writes inside <tool_call>."""
        return json.dumps({"name": self.name, "arguments": self.example}, ensure_ascii=False)


SEARCH = ToolSpec(
    name="search",
    description=(
        "Search the web. Takes a batch of queries and returns the top results of each "
        "(title, url, snippet)."
    ),
    parameters={
        "type": "object",
        "properties": {
            "query": {
                "type": "array",
                "items": {**_NON_EMPTY_STRING, "description": "One search query."},
                "minItems": 1,
                "description": "The list of search queries.",
            }
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    example={"query": ["capital of Australia"]},
)
VISIT = ToolSpec(
    name="visit",
    description=(
        "Visit one or more web pages and return the parts of their text most relevant to the goal."
    ),
    parameters={
        "type": "object",
        "properties": {
            "url": {
                "anyOf": [
                    _NON_EMPTY_STRING,
                    {"type": "array", "items": _NON_EMPTY_STRING, "minItems": 1},
                ],
                "description": "The URL of the page to visit, or a list of URLs.",
            },
            "goal": {
                **_NON_EMPTY_STRING,
                "description": "The specific information to look for on the page(s).",
            },
        },
        "required": ["url", "goal"],
        "additionalProperties": False,
    },
    example={
        "url": "https://en.wikipedia.org/wiki/Canberra",
        "goal": "the year Canberra became the capital",
    },
)
PYTHON = ToolSpec(
    name="python",
    description=(
        "Run Python 3 code in a sandbox (no network, no files outside a temporary directory, "
        "limited time and memory) and return what it prints. Use print() for every result "
        "you want to see."
    ),
    parameters={
        "type": "object",
        "properties": {
            "code": {**_NON_EMPTY_STRING, "description": "The Python code to run."},
        },
        "required": ["code"],
        "additionalProperties": False,
    },
    example={"code": "print(2**10)"},
)
TOOLS: tuple[ToolSpec, ...] = (SEARCH, VISIT, PYTHON)


def tools_by_name(tools: tuple[ToolSpec, ...] = TOOLS) -> dict[str, ToolSpec]:
    """The tools keyed by name (names must be unique)."""
    named = {tool.name: tool for tool in tools}
    if len(named) != len(tools):
        raise ValueError(f"duplicate tool names in {[tool.name for tool in tools]}")
    return named


def tool_call_error(call: ToolCall, tools: tuple[ToolSpec, ...] = TOOLS) -> str | None:
    """What is wrong with `call`, as the tool-response text for the model; None if it is valid.

    An unknown tool name lists the tools (with a close match if there is one); invalid
    arguments name each argument, what it must be and what was given, then an example call.
    """
    named = tools_by_name(tools)
    spec = named.get(call.name)
    if spec is None:
        close = difflib.get_close_matches(call.name.lower(), list(named), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"Error: unknown tool {call.name!r}. The tools are: {', '.join(named)}.{hint}"
    problems = argument_problems(spec, call.arguments)
    if not problems:
        return None
    return (
        f"Error: invalid arguments for tool {spec.name!r}: {'; '.join(problems)}. "
        f"Example of a valid call: {spec.example_call()}"
    )


def argument_problems(spec: ToolSpec, arguments: dict[str, Any]) -> list[str]:
    """One sentence per schema violation in `arguments`, in argument order."""
    validator = jsonschema.Draft202012Validator(spec.parameters)
    errors = sorted(
        validator.iter_errors(arguments),
        key=lambda error: [(type(part).__name__, part) for part in error.path],
    )
    # jsonschema reports each missing required argument separately, with the same message here.
    return list(dict.fromkeys(_describe_error(spec, error) for error in errors))


def _describe_error(spec: ToolSpec, error: jsonschema.ValidationError) -> str:
    """A validation error in words: which argument, what was expected, what was given."""
    properties = spec.parameters.get("properties", {})
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return "; ".join(
            f"missing required argument {name!r} ({describe_schema(properties[name])})"
            for name in missing
        )
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(properties))
        allowed = ", ".join(repr(name) for name in properties)
        return f"unexpected argument(s) {', '.join(map(repr, extra))}; {spec.name} takes {allowed}"
    where = _argument_path(error.path)
    expected = describe_schema(error.schema)
    return f"argument {where} must be {expected}; got {_describe_value(error.instance)}"


def _argument_path(path: Any) -> str:
    """'query' or 'query[1]' for a path into the arguments object."""
    parts = list(path)
    text = str(parts[0]) if parts else "arguments"
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return repr(text)


def describe_schema(schema: dict[str, Any]) -> str:
    """A short English description of what a (sub)schema accepts, e.g. 'a non-empty array of
    strings'."""
    if "anyOf" in schema:
        return " or ".join(describe_schema(option) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        prefix = "a non-empty array" if schema.get("minItems", 0) >= 1 else "an array"
        item_kind = schema.get("items", {}).get("type")
        return f"{prefix} of {item_kind}s" if item_kind else prefix
    if kind == "string":
        return "a non-empty string" if schema.get("minLength", 0) >= 1 else "a string"
    if kind == "object":
        return "an object"
    return "a value" if kind is None else f"a value of type {kind}"


def _describe_value(value: Any) -> str:
    """The given value's type, with a short preview of a string."""
    if isinstance(value, str):
        if not value:
            return "an empty string"
        preview = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({preview!r})"
    if isinstance(value, list) and not value:
        return "an empty array"
    return json_type_name(value)
