import pytest

from agents.format import ToolCall
from agents.tool_schemas import (
    PYTHON,
    SEARCH,
    TOOLS,
    VISIT,
    ToolSpec,
    argument_problems,
    describe_schema,
    tool_call_error,
    tools_by_name,
)


@pytest.mark.parametrize(
    "call",
    [
        ToolCall("search", {"query": ["a", "b"]}),
        ToolCall("visit", {"url": "https://en.wikipedia.org/wiki/Paris", "goal": "population"}),
        ToolCall("visit", {"url": ["https://a.org", "https://b.org"], "goal": "dates"}),
        ToolCall("python", {"code": "print(1)"}),
    ],
)
def test_valid_calls_have_no_error(call):
    assert tool_call_error(call) is None


@pytest.mark.parametrize("spec", TOOLS)
def test_each_tools_own_example_is_valid(spec):
    assert argument_problems(spec, spec.example) == []


def test_search_requires_an_array_not_a_single_string():
    error = tool_call_error(ToolCall("search", {"query": "capital of France"}))
    assert error.startswith("Error: invalid arguments for tool 'search': ")
    assert "argument 'query' must be a non-empty array of strings" in error
    assert "got a string ('capital of France')" in error
    assert '{"name": "search", "arguments": {"query": [' in error  # the right form, shown


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            ToolCall("search", {"query": []}),
            "'query' must be a non-empty array of strings; got an empty array",
        ),
        (
            ToolCall("search", {"query": ["a", 3]}),
            "'query[1]' must be a non-empty string; got an integer",
        ),
        (
            ToolCall("search", {}),
            "missing required argument 'query' (a non-empty array of strings)",
        ),
        (
            ToolCall("search", {"query": ["a"], "top_k": 3}),
            "unexpected argument(s) 'top_k'; search takes 'query'",
        ),
        (
            ToolCall("visit", {"url": 5, "goal": "g"}),
            "'url' must be a non-empty string or a non-empty array of strings; got an integer",
        ),
        (
            ToolCall("visit", {"url": "https://a.org"}),
            "missing required argument 'goal' (a non-empty string)",
        ),
        (
            ToolCall("python", {"code": ""}),
            "argument 'code' must be a non-empty string; got an empty string",
        ),
        (
            ToolCall("python", {"code": ["print(1)"]}),
            "argument 'code' must be a non-empty string; got an array",
        ),
    ],
)
def test_invalid_arguments_say_which_argument_and_what_was_expected(call, expected):
    error = tool_call_error(call)
    assert error is not None
    assert expected in error


def test_every_problem_is_reported_once():
    problems = argument_problems(VISIT, {})
    assert problems == [
        "missing required argument 'url' (a non-empty string or a non-empty array of strings); "
        "missing required argument 'goal' (a non-empty string)"
    ]


def test_an_unknown_tool_lists_the_tools_and_a_close_match():
    error = tool_call_error(ToolCall("browse", {"url": "x"}))
    assert error == "Error: unknown tool 'browse'. The tools are: search, visit, python."
    assert "Did you mean 'python'?" in tool_call_error(ToolCall("PythonInterpreter", {}))


def test_duplicate_tool_names_are_rejected():
    with pytest.raises(ValueError, match="duplicate tool names"):
        tools_by_name((SEARCH, SEARCH))


def test_callers_can_validate_against_their_own_tools():
    only_python = (PYTHON,)
    assert "The tools are: python." in tool_call_error(
        ToolCall("search", {"query": ["a"]}), only_python
    )
    custom = ToolSpec("echo", "Echo.", {"type": "object"}, example={})
    assert tool_call_error(ToolCall("echo", {"anything": 1}), (custom,)) is None


def test_describe_schema():
    assert (
        describe_schema(SEARCH.parameters["properties"]["query"]) == "a non-empty array of strings"
    )
    assert describe_schema({"type": "array"}) == "an array"
    assert describe_schema({"type": "string"}) == "a string"
