import json

import pytest

from evaluation.task_sample import main, read_verdicts, score_verdicts


def _write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_scores_count_each_verdict_and_all_three_per_kind(tmp_path):
    rows = [
        {
            "task_id": "a",
            "kind": "factual",
            "well_formed": True,
            "unambiguous": True,
            "correct": True,
        },
        {
            "task_id": "b",
            "kind": "factual",
            "well_formed": True,
            "unambiguous": False,
            "correct": True,
        },
        {
            "task_id": "c",
            "kind": "set_basic",
            "well_formed": False,
            "unambiguous": True,
            "correct": False,
        },
    ]
    scores = score_verdicts(read_verdicts([_write(tmp_path / "v.jsonl", rows)]))
    assert scores["factual"] == {
        "tasks": 2, "well_formed": 2, "unambiguous": 1, "correct": 2, "all_three": 1,
    }  # fmt: skip
    assert scores["total"]["all_three"] == 1
    assert list(scores)[-1] == "total"


def test_a_bad_verdict_line_names_the_file_and_line(tmp_path):
    path = _write(tmp_path / "v.jsonl", [{"task_id": "a", "kind": "k", "well_formed": "yes",
                                          "unambiguous": True, "correct": True}])  # fmt: skip
    with pytest.raises(ValueError, match=r"v.jsonl:1: 'well_formed' must be true or false"):
        read_verdicts([path])
    missing = _write(tmp_path / "m.jsonl", [{"task_id": "a", "kind": "k"}])
    with pytest.raises(ValueError, match=r"m.jsonl:1: no field 'well_formed'"):
        read_verdicts([missing])


def test_the_score_command_prints_a_table(tmp_path, capsys):
    row = {"task_id": "a", "kind": "factual", "well_formed": True, "unambiguous": True,
           "correct": True}  # fmt: skip
    assert main(["score", str(_write(tmp_path / "v.jsonl", [row]))]) == 0
    assert "factual" in capsys.readouterr().out
