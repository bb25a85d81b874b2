import polars as pl
import pytest

from lakehouse.ids import stable_id
from lakehouse.index.chunking import (
    PASSAGE_COLUMNS,
    ChunkSettings,
    chunk_document,
    chunk_documents,
    split_sentences,
)


def _sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def test_abbreviations_initials_acronyms_and_decimals_do_not_end_sentences():
    text = (
        "Dr. Smith met J. R. R. Tolkien in the U.S. Capitol, e.g. in the hall. "
        "Pi is about 3.14 and c. 1500 was busy! Was it? No. 5 was sung on Jan. 12 by Mr. Lee."
    )
    assert _sentences(text) == [
        "Dr. Smith met J. R. R. Tolkien in the U.S. Capitol, e.g. in the hall.",
        "Pi is about 3.14 and c. 1500 was busy!",
        "Was it?",
        "No. 5 was sung on Jan. 12 by Mr. Lee.",
    ]


def test_quotes_lowercase_continuations_and_newlines():
    text = '"Why?" he asked. He said "Stop." Then he left...\nA heading\n\nNew paragraph here'
    assert _sentences(text) == [
        '"Why?" he asked.',
        'He said "Stop."',
        "Then he left...",
        "A heading",
        "New paragraph here",
    ]


def test_number_abbreviation_ends_a_sentence_unless_a_number_follows():
    assert _sentences("The answer was no. Then it ended.") == [
        "The answer was no.",
        "Then it ended.",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_words": 0}, "max_words"),
        ({"overlap_sentences": -1}, "overlap_sentences"),
        ({"min_words": 200}, "min_words"),
        ({"min_words": -1}, "min_words"),
    ],
)
def test_settings_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ChunkSettings(**kwargs)


def _sentence(i: int, words: int = 5) -> str:
    return " ".join([f"S{i}"] + [f"w{j}" for j in range(words - 1)]) + "."


def test_packs_whole_sentences_with_one_sentence_of_overlap_and_exact_offsets():
    text = " ".join(_sentence(i) for i in range(6))  # six 5-word sentences
    chunks = chunk_document(text, ChunkSettings(max_words=12, overlap_sentences=1, min_words=1))
    assert [chunk.text for chunk in chunks] == [
        " ".join(_sentence(i) for i in (0, 1)),
        " ".join(_sentence(i) for i in (1, 2)),
        " ".join(_sentence(i) for i in (2, 3)),
        " ".join(_sentence(i) for i in (3, 4)),
        " ".join(_sentence(i) for i in (4, 5)),
    ]
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert text[chunk.start_char : chunk.end_char] == chunk.text
        assert chunk.n_words == 10


def test_no_overlap_and_a_short_document_is_one_chunk():
    text = " ".join(_sentence(i) for i in range(4))
    chunks = chunk_document(text, ChunkSettings(max_words=10, overlap_sentences=0, min_words=1))
    assert [chunk.text for chunk in chunks] == [
        f"{_sentence(0)} {_sentence(1)}",
        f"{_sentence(2)} {_sentence(3)}",
    ]
    assert [c.text for c in chunk_document("Tiny doc.", ChunkSettings())] == ["Tiny doc."]
    assert chunk_document("  \n\n ", ChunkSettings()) == []


def test_a_sentence_longer_than_max_words_is_split_between_words():
    long_sentence = " ".join(f"word{i}" for i in range(25)) + "."
    text = f"Short one here. {long_sentence} After it."
    settings = ChunkSettings(max_words=10, overlap_sentences=1, min_words=3)
    chunks = chunk_document(text, settings)
    assert all(chunk.n_words <= settings.max_words for chunk in chunks)
    assert all(text[c.start_char : c.end_char] == c.text for c in chunks)
    # Every word survives, no word is cut: the pieces' words are the sentence's words.
    words = {word for chunk in chunks for word in chunk.text.replace(".", "").split()}
    assert {f"word{i}" for i in range(25)} <= words
    assert "word24. After it." in chunks[-1].text


def test_a_small_tail_is_merged_into_the_chunk_before_it():
    text = f"{_sentence(0, 6)} {_sentence(1, 6)} End now."
    merged = chunk_document(text, ChunkSettings(max_words=12, overlap_sentences=1, min_words=3))
    assert [chunk.text for chunk in merged] == [text]  # 14 words: over max by < min_words
    kept = chunk_document(text, ChunkSettings(max_words=12, overlap_sentences=1, min_words=2))
    assert [chunk.text for chunk in kept] == [
        f"{_sentence(0, 6)} {_sentence(1, 6)}",
        f"{_sentence(1, 6)} End now.",
    ]


def test_overlap_shrinks_rather_than_overflowing_max_words():
    text = f"{_sentence(0, 8)} {_sentence(1, 8)}"
    chunks = chunk_document(text, ChunkSettings(max_words=10, overlap_sentences=1, min_words=1))
    assert [chunk.text for chunk in chunks] == [_sentence(0, 8), _sentence(1, 8)]


def test_chunk_documents_rows_ids_and_lineage():
    documents = pl.DataFrame(
        {
            "doc_id": ["doc_a", "doc_b"],
            "url": ["https://x.test/a", "https://x.test/b"],
            "title": ["A", "B"],
            "text": [" ".join(_sentence(i, 40) for i in range(5)), "Just one sentence here."],
        }
    )
    settings = ChunkSettings()
    passages = chunk_documents(documents, settings)
    assert passages.schema == pl.Schema(PASSAGE_COLUMNS)
    assert passages.filter(pl.col("doc_id") == "doc_a").height == 2
    first = passages.row(0, named=True)
    assert first["passage_id"] == stable_id("psg", "doc_a", settings.fingerprint(), "0")
    assert first["parent_ids"] == ["doc_a"]
    assert chunk_documents(documents, settings).equals(passages)  # deterministic
    other = chunk_documents(documents, ChunkSettings(max_words=100))
    assert set(other["passage_id"]).isdisjoint(passages["passage_id"])
