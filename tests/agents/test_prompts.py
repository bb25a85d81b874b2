import itertools
import json

from agents.format import TOOL_RESPONSE_OPEN, parse_turn, render_tool_response
from agents.prompts import (
    DEFAULT_FEW_SHOT,
    NO_FEW_SHOT,
    FewShot,
    build_messages,
    prompt_template_hash,
    system_prompt,
)
from agents.sandbox import run_python
from agents.tool_schemas import PYTHON, TOOLS, tool_call_error


def test_the_system_prompt_declares_every_tool_as_json_inside_tools_tags():
    text = system_prompt()
    declared = text.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0].splitlines()
    assert [json.loads(line) for line in declared] == [tool.function_json() for tool in TOOLS]
    assert "<tool_call>" in text
    assert "<answer>" in text
    assert "<think>" in text
    assert "Current date" not in text
    assert system_prompt(current_date="2026-01-02").endswith("\n\nCurrent date: 2026-01-02")


def test_the_system_prompt_lists_only_the_tools_given():
    text = system_prompt((PYTHON,))
    assert '"name": "python"' in text
    assert '"name": "search"' not in text


def test_the_few_shot_prefix_is_in_the_format_it_teaches():
    messages = DEFAULT_FEW_SHOT.messages
    assert messages[0]["role"] == "user"
    assert messages[-1]["role"] == "assistant"
    for message in messages[1:]:
        if message["role"] == "assistant":
            turn = parse_turn(message["content"])
            assert turn.ok, turn.error
            assert turn.violations == ()
            if turn.tool_call:
                assert tool_call_error(turn.tool_call) is None
        else:
            assert message["content"].startswith(TOOL_RESPONSE_OPEN)
    assert parse_turn(messages[-1]["content"]).answer == "41"


def test_the_few_shot_python_result_is_what_the_sandbox_returns():
    messages = DEFAULT_FEW_SHOT.messages
    for message, reply in itertools.pairwise(messages):
        call = parse_turn(message["content"]).tool_call if message["role"] == "assistant" else None
        if call is not None and call.name == "python":
            result = run_python(call.arguments["code"])
            assert reply["content"] == render_tool_response(result.to_tool_text())
            return
    raise AssertionError("the few-shot prefix has no python call")


def test_build_messages_orders_system_few_shot_and_question():
    messages = build_messages("Who wrote Emma?", current_date="2026-01-02")
    assert messages[0] == {"role": "system", "content": system_prompt(current_date="2026-01-02")}
    assert tuple(messages[1:-1]) == DEFAULT_FEW_SHOT.messages
    assert messages[-1] == {"role": "user", "content": "Who wrote Emma?"}
    assert len(build_messages("q", few_shot=NO_FEW_SHOT)) == 2


def test_the_prompt_hash_is_stable_and_tracks_the_prefix():
    assert prompt_template_hash() == prompt_template_hash()
    other = FewShot(version="fewshot-x", messages=DEFAULT_FEW_SHOT.messages)
    assert prompt_template_hash(few_shot=other) != prompt_template_hash()
    assert prompt_template_hash(few_shot=NO_FEW_SHOT) != prompt_template_hash()
    assert prompt_template_hash((PYTHON,)) != prompt_template_hash()
