import polars as pl
import pytest
from datasketch import MinHashLSH

from lakehouse.ids import stable_id
from lakehouse.web.near_duplicates import (
    ALL_PAIRS_MAX_BUCKET,
    OUTPUT_SCHEMA,
    NearDupSettings,
    batch_size_for,
    dedup_key_words,
    near_duplicate_clusters,
    optimal_band_rows,
)
from lakehouse.web.normalize import dedup_key

# 40 words, so 36 five-word shingles.
BASE = (
    "The lighthouse keeper climbed the spiral stairs every evening at dusk to light the great "
    "lamp that warned passing ships away from the jagged rocks hidden beneath the grey waves "
    "of the northern bay while gulls circled and wind howled"
)
UNRELATED = [
    "Photosynthesis converts light energy into chemical energy stored in glucose molecules.",
    "The stock market closed higher on Friday after a week of volatile trading sessions.",
    "Medieval castles were often built on hills to give defenders a clear view of attackers.",
]


def replace_word(text: str, index: int, word: str) -> str:
    words = text.split()
    words[index] = word
    return " ".join(words)


def clusters(texts: list[str], **settings) -> pl.DataFrame:
    doc_ids = [f"doc{index}" for index in range(len(texts))]
    return near_duplicate_clusters(doc_ids, texts, NearDupSettings(**settings))


def test_base_text_has_forty_words():
    assert len(BASE.split()) == 40


def test_identical_texts_cluster_whatever_their_case_and_spacing():
    frame = clusters([BASE, UNRELATED[0], BASE.upper(), "  " + BASE.replace(" ", "\n")])
    assert frame.schema == OUTPUT_SCHEMA
    assert frame["doc_id"].to_list() == ["doc0", "doc2", "doc3"]
    assert set(frame["canonical_doc_id"]) == {"doc0"}
    assert frame["similarity"].to_list() == [1.0, 1.0, 1.0]


def test_one_word_edit_near_the_end_of_a_forty_word_text_clusters():
    # Word 38 is in 2 of the 36 shingles: exact Jaccard (36 - 2) / (36 + 2).
    frame = clusters([BASE, replace_word(BASE, 38, "roared")])
    assert frame["doc_id"].to_list() == ["doc0", "doc1"]
    assert frame["similarity"].to_list() == pytest.approx([1.0, 34 / 38])


def test_threshold_applies_to_the_exact_jaccard_of_the_shingle_sets():
    # Word 20 is in 5 shingles: Jaccard 31/41 = 0.756, under the default 0.8.
    texts = [BASE, replace_word(BASE, 20, "shallow")]
    assert clusters(texts).is_empty()
    frame = clusters(texts, threshold=0.75)
    assert frame["similarity"].to_list() == pytest.approx([1.0, 31 / 41])


def test_unrelated_texts_do_not_cluster():
    frame = clusters([BASE, *UNRELATED])
    assert frame.is_empty()
    assert frame.schema == OUTPUT_SCHEMA


def test_canonical_is_the_first_member_in_input_order():
    edited = replace_word(BASE, 39, "screamed")
    frame = clusters([UNRELATED[0], edited, BASE, UNRELATED[1], BASE.lower()])
    assert frame["doc_id"].to_list() == ["doc1", "doc2", "doc4"]
    assert set(frame["canonical_doc_id"]) == {"doc1"}
    assert frame["similarity"].to_list() == pytest.approx([1.0, 35 / 37, 35 / 37])


def test_a_cluster_is_a_connected_component_of_matching_pairs():
    near_end = replace_word(BASE, 38, "roared")  # Jaccard with BASE 34/38 = 0.89
    both_ends = replace_word(near_end, 2, "keeper's")  # with near_end 33/39, with BASE 31/41
    # 32 bands of 4 rows: pairs at 0.85 are candidates with probability 1 - 1e-10 (with the
    # default 16 × 8 it is 0.99, and these two texts happen to fall in the 1%).
    frame = clusters([BASE, near_end, both_ends], bands=32, rows=4)
    assert frame["doc_id"].to_list() == ["doc0", "doc1", "doc2"]
    assert set(frame["canonical_doc_id"]) == {"doc0"}
    # Joined through doc1, doc2 is below the threshold against the canonical member.
    assert frame["similarity"].to_list() == pytest.approx([1.0, 34 / 38, 31 / 41])


def test_many_copies_of_one_text_form_one_cluster():
    # More copies than ALL_PAIRS_MAX_BUCKET: each is paired with the first copy only.
    texts = [UNRELATED[0]] + [BASE] * (ALL_PAIRS_MAX_BUCKET + 8)
    frame = clusters(texts)
    assert frame.height == ALL_PAIRS_MAX_BUCKET + 8
    assert set(frame["canonical_doc_id"]) == {"doc1"}


def test_cluster_ids_derive_from_the_canonical_id_only():
    first = near_duplicate_clusters(["a", "b"], [BASE, BASE], NearDupSettings())
    second = near_duplicate_clusters(
        ["x", "a", "y", "b"], [UNRELATED[0], BASE, UNRELATED[1], BASE], NearDupSettings()
    )
    assert first["cluster_id"].to_list() == [stable_id("ndc", "a")] * 2
    assert second.equals(first)


def test_texts_shorter_than_a_shingle_are_one_shingle():
    frame = clusters(["Hello  World", "hello world", "hello there", "", "  "])
    assert frame["doc_id"].to_list() == ["doc0", "doc1", "doc3", "doc4"]
    assert frame["canonical_doc_id"].to_list() == ["doc0", "doc0", "doc3", "doc3"]


def test_one_or_two_workers_give_the_same_rows():
    texts = []
    for family in range(12):
        base = " ".join(f"f{family}w{index}" for index in range(40))
        texts += [base, replace_word(base, 39, "end"), f"f{family} unrelated words only here"]
    doc_ids = [f"doc{index:02d}" for index in range(len(texts))]
    assert batch_size_for(len(texts), 2) * 2 < len(texts)  # several batches per worker
    progress: list[tuple[int, int]] = []
    settings = NearDupSettings()
    one = near_duplicate_clusters(doc_ids, texts, settings, workers=1)
    two = near_duplicate_clusters(
        doc_ids, texts, settings, workers=2, progress=lambda *done: progress.append(done)
    )
    assert one.height == 24
    assert two.equals(one)
    assert progress[-1] == (36, 36)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"shingle_size": 0}, "shingle_size must be at least 1"),
        ({"num_perm": 0}, "num_perm must be at least 1"),
        ({"num_perm": 12.5}, "num_perm must be an integer"),
        ({"threshold": 0.0}, r"threshold must be in \(0, 1\]"),
        ({"threshold": 1.5}, r"threshold must be in \(0, 1\]"),
        ({"bands": 4}, "give bands and rows together or neither"),
        ({"bands": 20, "rows": 8}, "bands × rows = 20 × 8 = 160 exceeds num_perm = 128"),
        ({"bands": 0, "rows": 8}, "bands and rows must be at least 1"),
        ({"false_positive_weight": 0.5}, "must be >= 0 and sum to 1"),
        ({"seed": -1}, r"seed must be in \[0, 2\*\*64\)"),
    ],
)
def test_bad_settings_are_rejected_with_the_reason(settings, message):
    with pytest.raises(ValueError, match=message):
        NearDupSettings(**settings)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="got 2 doc_ids but 1 texts"):
        near_duplicate_clusters(["a", "b"], [BASE], NearDupSettings())
    with pytest.raises(ValueError, match="doc_ids must be unique"):
        near_duplicate_clusters(["a", "a"], [BASE, BASE], NearDupSettings())


def test_no_documents_give_no_rows():
    assert near_duplicate_clusters([], [], NearDupSettings()).schema == OUTPUT_SCHEMA


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.05, 0.95)])
def test_bands_and_rows_are_those_datasketch_chooses(threshold, weights):
    lsh = MinHashLSH(threshold=threshold, num_perm=128, weights=weights)
    assert optimal_band_rows(threshold, 128, *weights) == (lsh.b, lsh.r)


def test_explicit_bands_and_rows_are_kept():
    assert NearDupSettings(bands=4, rows=32).band_rows == (4, 32)
    assert NearDupSettings().band_rows == (16, 8)


def test_shingle_words_are_the_words_of_the_dedup_key():
    text = "  Ünïcode\tSTRASSE straße\n\nﬁne  "
    assert " ".join(dedup_key_words(text)) == dedup_key(text)
