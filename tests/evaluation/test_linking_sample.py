import json
from pathlib import Path

import polars as pl
import pytest

from evaluation.linking_sample import (
    Judgement,
    JudgementFileError,
    Precision,
    draw_linked_sample,
    format_sample,
    judgement_template,
    load_judgements,
    main,
    sample_from_lakehouse,
    score_judgements,
    wilson_interval,
    write_judgements,
)
from lakehouse import Lakehouse
from lakehouse.tables import DOCUMENTS, ENTITIES, MENTIONS, TableSpec

TEXT = "Mercury is a planet. Mercury is also a metal. New Mexico is a state."
DOCUMENTS_FRAME = pl.DataFrame({"doc_id": ["d1"], "title": ["Planets"], "text": [TEXT]})
ENTITIES_FRAME = pl.DataFrame(
    {
        "entity_id": ["e_planet", "e_metal", "e_mexico"],
        "name": ["Mercury (planet)", "Mercury (element)", "Mexico"],
        "description": ["Planet", "Chemical element", "Country in North America"],
        "entity_type": ["place", "concept", "country"],
    }
)


def _mentions(n_linked: int, n_unlinked: int) -> pl.DataFrame:
    """n_linked linked and n_unlinked unlinked mentions, all of the first 'Mercury'."""
    total = n_linked + n_unlinked
    return pl.DataFrame(
        {
            "mention_id": [f"men_{i:03d}" for i in range(total)],
            "doc_id": ["d1"] * total,
            "sentence_start": [0] * total,
            "sentence_end": [20] * total,
            "start_char": [0] * total,
            "end_char": [7] * total,
            "surface": ["Mercury"] * total,
            "entity_id": ["e_planet"] * n_linked + [None] * n_unlinked,
            "method": ["context"] * n_linked + ["nil_context"] * n_unlinked,
            "score": [0.5] * total,
        },
        schema_overrides={"entity_id": pl.String},
    )


def test_the_sample_is_reproducible_with_a_seed_and_varies_with_it():
    mentions = _mentions(50, 50)
    first = draw_linked_sample(mentions, DOCUMENTS_FRAME, ENTITIES_FRAME, n=10, seed=3)
    again = draw_linked_sample(mentions, DOCUMENTS_FRAME, ENTITIES_FRAME, n=10, seed=3)
    other = draw_linked_sample(mentions, DOCUMENTS_FRAME, ENTITIES_FRAME, n=10, seed=4)
    assert [m.mention_id for m in first] == [m.mention_id for m in again]
    assert [m.mention_id for m in first] != [m.mention_id for m in other]
    # Row order of the input does not matter: the draw is over mention ids.
    shuffled = mentions.sample(fraction=1.0, shuffle=True, seed=1)
    assert draw_linked_sample(shuffled, DOCUMENTS_FRAME, ENTITIES_FRAME, n=10, seed=3) == first


def test_the_sample_holds_only_linked_mentions_and_respects_n():
    mentions = _mentions(30, 70)
    sample = draw_linked_sample(mentions, DOCUMENTS_FRAME, ENTITIES_FRAME, n=12, seed=0)
    assert len(sample) == 12
    assert len({m.mention_id for m in sample}) == 12
    assert all(int(m.mention_id[4:]) < 30 for m in sample)  # the first 30 are the linked ones
    everything = draw_linked_sample(mentions, DOCUMENTS_FRAME, ENTITIES_FRAME, n=500, seed=0)
    assert len(everything) == 30
    assert draw_linked_sample(mentions, DOCUMENTS_FRAME, ENTITIES_FRAME, n=0) == []


def test_a_sampled_mention_carries_its_sentence_and_entity():
    mentions = pl.DataFrame(
        {
            "mention_id": ["men_a", "men_b"],
            "doc_id": ["d1", "d1"],
            "sentence_start": [21, 46],
            "sentence_end": [45, 68],
            "start_char": [21, 50],
            "end_char": [28, 56],
            "surface": ["Mercury", "Mexico"],
            "entity_id": ["e_metal", "e_mexico"],
            "method": ["context", "unique_alias"],
            "score": [0.42, 1.0],
        }
    )
    [metal, mexico] = sorted(
        draw_linked_sample(mentions, DOCUMENTS_FRAME, ENTITIES_FRAME, n=2),
        key=lambda m: m.mention_id,
    )
    assert metal.sentence == "Mercury is also a metal."
    assert metal.doc_title == "Planets"
    assert (metal.entity_name, metal.entity_description) == (
        "Mercury (element)",
        "Chemical element",
    )
    assert (metal.method, metal.score) == ("context", 0.42)
    assert mexico.marked_sentence() == "New [[Mexico]] is a state."
    printed = format_sample([mexico])
    assert printed.startswith("#1 men_b  page: Planets\n    New [[Mexico]] is a state.")
    assert "→ Mexico (country): Country in North America  [e_mexico]" in printed
    assert judgement_template([mexico])[0] == {
        "mention_id": "men_b",
        "surface": "Mexico",
        "entity_id": "e_mexico",
        "entity_name": "Mexico",
        "method": "unique_alias",
        "verdict": None,
        "reason": "",
    }


def _stamped(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """`frame` padded with nulls to the table's full schema, lineage columns included."""
    return frame.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in spec.schema.items() if name not in frame
    )


def test_the_command_line_samples_a_lakehouse_and_scores_a_file(tmp_path, capsys):
    lakehouse = Lakehouse(tmp_path / "lh")
    lakehouse.write(MENTIONS.name, _stamped(_mentions(5, 5), MENTIONS))
    lakehouse.write(DOCUMENTS.name, _stamped(DOCUMENTS_FRAME, DOCUMENTS))
    lakehouse.write(ENTITIES.name, _stamped(ENTITIES_FRAME, ENTITIES))
    sample = sample_from_lakehouse(tmp_path / "lh", n=3, seed=0)
    assert len(sample) == 3
    assert sample == draw_linked_sample(_mentions(5, 5), DOCUMENTS_FRAME, ENTITIES_FRAME, n=3)

    template = tmp_path / "template.jsonl"
    args = ["sample", "--root", str(tmp_path / "lh"), "--n", "3", "--template", str(template)]
    assert main(args) == 0
    assert capsys.readouterr().out.count("\n#") == 2  # three numbered blocks
    records = [json.loads(line) for line in template.read_text().splitlines()]
    assert [r["mention_id"] for r in records] == [m.mention_id for m in sample]

    judged = tmp_path / "judged.jsonl"
    judged.write_text("\n".join(json.dumps({**r, "verdict": "correct"}) for r in records) + "\n")
    assert main(["score", str(judged)]) == 0
    assert capsys.readouterr().out.startswith("precision 1.000 [0.439, 1.000] (3 correct")


JUDGEMENTS = [
    Judgement("m1", "Mercury", "e1", "Mercury (planet)", "context", "correct"),
    Judgement("m2", "Mercury", "e2", "Mercury (element)", "context", "wrong", "The planet."),
    Judgement("m3", "Mexico", "e3", "Mexico", "unique_alias", "correct"),
    Judgement("m4", "Paris", "e4", "Paris", "unique_alias", "correct"),
    Judgement("m5", "Mexico", "e3", "Mexico", "unique_alias", "wrong", "Part of New Mexico."),
    Judgement("m6", "Rome", "e5", "Rome", "self", "correct"),
    Judgement("m7", "Georgia", "e6", "Georgia", "context", "unclear", "State or country."),
]


def test_scoring_counts_verdicts_and_gives_the_wilson_interval(tmp_path):
    scored = score_judgements(write_judgements(JUDGEMENTS, tmp_path / "j.jsonl"))
    assert scored.overall == Precision(correct=4, wrong=2, unclear=1)
    assert scored.overall.precision == pytest.approx(4 / 6)
    # Wilson 95%, 4 of 6: centre (p + z²/2n)/(1 + z²/n), half-width z/(1 + z²/n)·√(pq/n + z²/4n²).
    low, high = scored.overall.interval
    assert low == pytest.approx(0.299993, abs=1e-6)
    assert high == pytest.approx(0.903229, abs=1e-6)
    assert scored.by_method == {
        "context": Precision(1, 1, 1),
        "self": Precision(1, 0, 0),
        "unique_alias": Precision(2, 1, 0),
    }
    assert scored.by_method["context"].precision == 0.5
    assert scored.describe().splitlines() == [
        "precision 0.667 [0.300, 0.903] (4 correct, 2 wrong, 1 unclear)",
        "  context       0.500 [0.095, 0.905] (1 correct, 1 wrong, 1 unclear)",
        "  self          1.000 [0.207, 1.000] (1 correct, 0 wrong, 0 unclear)",
        "  unique_alias  0.667 [0.208, 0.939] (2 correct, 1 wrong, 0 unclear)",
    ]


def test_wilson_interval_edge_cases():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0)
    assert low == pytest.approx(0.722467, abs=1e-6)
    assert wilson_interval(0, 10)[0] == 0.0
    assert Precision(0, 0, 3).precision is None
    assert Precision(0, 0, 3).describe() == "n/a (0 correct, 0 wrong, 3 unclear)"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"verdict": "correct"}, r"j.jsonl:2: missing field 'mention_id'"),
        ({**JUDGEMENTS[0].__dict__, "verdict": "maybe"}, r"j.jsonl:2: field 'verdict' must be"),
        ({**JUDGEMENTS[1].__dict__, "reason": " "}, r"j.jsonl:2: a 'wrong' verdict needs a"),
        ({**JUDGEMENTS[0].__dict__, "method": ""}, r"j.jsonl:2: missing field 'method'"),
        ({**JUDGEMENTS[0].__dict__}, r"j.jsonl:2: mention m1 already judged on line 1"),
    ],
)
def test_a_bad_judgement_line_names_the_file_line_and_field(tmp_path: Path, record, message):
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps(JUDGEMENTS[0].__dict__) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(JudgementFileError, match=message):
        load_judgements(path)


def test_a_line_that_is_not_json_is_an_error(tmp_path: Path):
    path = tmp_path / "j.jsonl"
    path.write_text("{not json\n")
    with pytest.raises(JudgementFileError, match=r"j.jsonl:1: not valid JSON"):
        load_judgements(path)


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path, capsys):
    with pytest.raises(JudgementFileError, match=r"cannot read judgement file .*absent.jsonl"):
        load_judgements(tmp_path / "absent.jsonl")
    assert main(["score", str(tmp_path / "absent.jsonl")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot read judgement file")
