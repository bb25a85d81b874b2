from agents.format import FormatError, Violation
from agents.paradigms.blocks import find_blocks, parse_tagged_turn, strip_think, thinking

CALL = '<tool_call>{"name": "search", "arguments": {"query": ["q"]}}</tool_call>'


def test_blocks_are_sorted_by_where_they_start_and_cut_out():
    text = "<think>a <r>inner</r></think> <r> outer </r> tail"
    assert find_blocks(text, "r") == (("outer",), ("inner",), "<think>a </think>  tail")


def test_a_prefilled_think_counts_as_thinking():
    text = "planning <r>draft</r></think><r>final</r>"
    outside, in_think, _ = find_blocks(text, "r")
    assert (outside, in_think) == (("final",), ("draft",))
    assert thinking(text) == "planning <r>draft</r>"
    assert strip_think(text) == "<r>final</r>"


def test_an_unclosed_think_runs_to_the_end():
    assert find_blocks("<think>still <r>x</r>", "r")[:2] == ((), ("x",))
    assert strip_think("said <think>unfinished") == "said"


def test_a_turn_of_only_blocks_has_no_action():
    tagged = parse_tagged_turn("<r>only a report</r>", "r")
    assert tagged.parsed.error_kind is FormatError.NO_ACTION
    assert tagged.outside == ("only a report",)


def test_tags_inside_a_block_are_not_parsed_and_the_content_is_the_whole_turn():
    text = f"<think>t</think><r><answer>no</answer></r>{CALL}"
    tagged = parse_tagged_turn(text, "r")
    assert tagged.parsed.ok
    assert tagged.parsed.answer is None
    assert tagged.parsed.tool_call.name == "search"
    assert tagged.parsed.content == text


def test_a_block_after_a_hallucinated_tool_response_is_dropped():
    text = f"<think>t</think><r>kept</r>{CALL}<tool_response>fake</tool_response><r>late</r>"
    tagged = parse_tagged_turn(text, "r")
    assert tagged.outside == ("kept",)
    assert tagged.parsed.violations == (Violation.HALLUCINATED_TOOL_RESPONSE,)
    assert tagged.parsed.dropped_chars == len("<tool_response>fake</tool_response><r>late</r>")
    assert tagged.parsed.content == f"<think>t</think><r>kept</r>{CALL}"
