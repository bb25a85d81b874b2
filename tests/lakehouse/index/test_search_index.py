from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lakehouse.index.chunking import chunk_documents
from lakehouse.index.embedder import default_embedder, embed_passages
from lakehouse.index.search_index import (
    IndexSettings,
    SearchIndex,
    SearchSettings,
    add_passages,
    block_filter,
    build_index,
    reciprocal_rank_fusion,
)

FACTS = {
    "2001: A Space Odyssey": "2001: A Space Odyssey is a 1968 science fiction film directed by "
    "Stanley Kubrick, in which astronauts travel to Jupiter to investigate an alien monolith.",
    "Tiger": "The tiger is the largest living cat species, recognisable by its dark vertical "
    "stripes on orange fur with a white underside.",
    "Photosynthesis": "Photosynthesis is the process by which plants and algae convert light "
    "energy into chemical energy stored in sugars.",
    "Mount Everest": "Mount Everest is Earth's highest mountain above sea level, located in the "
    "Mahalangur Himal sub-range of the Himalayas.",
    "Ada Lovelace": "Ada Lovelace was an English mathematician known for her notes on Charles "
    "Babbage's proposed Analytical Engine.",
    "Amazon River": "The Amazon River in South America is the largest river by discharge "
    "volume of water in the world.",
    "Paris": "Paris is the capital and most populous city of France, on the Seine.",
    "Beethoven": "Ludwig van Beethoven was a German composer whose Ninth Symphony ends with "
    "the Ode to Joy.",
    "Great Wall of China": "The Great Wall of China is a series of fortifications built across "
    "the historical northern borders of ancient Chinese states.",
    "Penicillin": "Penicillin was discovered in 1928 by Alexander Fleming, who noticed mould "
    "killing bacteria in a Petri dish.",
    "Volcano": "A volcano is a rupture in the crust of a planet that lets hot lava, volcanic "
    "ash and gases escape from a magma chamber.",
    "Chess": "Chess is a board game for two players in which each player controls sixteen "
    "pieces and tries to checkmate the opposing king.",
    "Olympic Games": "The modern Olympic Games are international sporting events held every "
    "four years, first staged in Athens in 1896.",
    "DNA": "Deoxyribonucleic acid is a polymer of two strands forming a double helix that "
    "carries genetic instructions for organisms.",
    "Moon": "The Moon is Earth's only natural satellite, and its phases result from the "
    "changing angle of sunlight.",
    "Shakespeare": "William Shakespeare was an English playwright who wrote Hamlet, Macbeth "
    "and Romeo and Juliet.",
    "Coffee": "Coffee is a beverage brewed from roasted coffee beans, the seeds of berries "
    "of the Coffea plant.",
    "Sahara": "The Sahara is the largest hot desert in the world, covering much of North Africa.",
    "Internet": "The Internet is the global system of interconnected computer networks that "
    "uses the TCP/IP protocol suite.",
    "Bicycle": "A bicycle is a pedal-driven, human-powered vehicle with two wheels attached "
    "to a frame, one behind the other.",
    "Honey bee": "Honey bees are eusocial flying insects that build colonies and store honey "
    "made from flower nectar.",
    "Pyramids of Giza": "The pyramids of Giza in Egypt were built as tombs for pharaohs of "
    "the Fourth Dynasty.",
    "Vaccination": "Vaccination is the administration of a vaccine to help the immune system "
    "develop immunity against a disease.",
    "Jazz": "Jazz is a music genre that originated in the African-American communities of "
    "New Orleans, with swing and blue notes.",
    "Antarctica": "Antarctica is Earth's southernmost continent, almost entirely covered by "
    "a thick ice sheet.",
    "Electric guitar": "An electric guitar uses pickups to convert the vibration of its "
    "steel strings into electrical signals for an amplifier.",
    "Leonardo da Vinci": "Leonardo da Vinci was an Italian Renaissance polymath who painted "
    "the Mona Lisa and The Last Supper.",
    "Black hole": "A black hole is a region of spacetime where gravity is so strong that "
    "nothing, not even light, can escape.",
}
BASE_URL = "https://en.wikipedia.org/wiki/"


def _documents(facts: dict[str, str]) -> pl.DataFrame:
    titles = sorted(facts)
    return pl.DataFrame(
        {
            "doc_id": [
                f"doc_{title.lower().replace(' ', '_').replace(':', '')}" for title in titles
            ],
            "url": [BASE_URL + title.replace(" ", "_") for title in titles],
            "title": titles,
            "text": [facts[title] for title in titles],
        }
    )


def _passages(facts: dict[str, str]) -> pl.DataFrame:
    return embed_passages(chunk_documents(_documents(facts)), default_embedder())


@pytest.fixture(scope="module")
def passages() -> pl.DataFrame:
    return _passages(FACTS)


@pytest.fixture(scope="module")
def index_dir(passages: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("index")
    build_index(passages, directory)
    return directory


@pytest.fixture(scope="module")
def index(index_dir: Path) -> SearchIndex:
    return SearchIndex(index_dir, embedder=default_embedder())


def _url(title: str) -> str:
    return BASE_URL + title.replace(" ", "_")


@pytest.mark.parametrize(
    ("mode", "query", "title"),
    [
        ("bm25", "Kubrick monolith Jupiter", "2001: A Space Odyssey"),
        ("bm25", "Fleming Petri dish", "Penicillin"),
        ("dense", "which big cat has striped fur", "Tiger"),
        ("dense", "how do plants make food from sunlight", "Photosynthesis"),
        ("hybrid", "tallest peak in the Himalayas", "Mount Everest"),
        ("hybrid", "first computer programmer Babbage", "Ada Lovelace"),
    ],
)
def test_each_mode_finds_the_obvious_passage_first(index, mode, query, title):
    [hits] = index.search([query], mode=mode, k=5)
    assert hits[0].url == _url(title)
    assert hits[0].title == title
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_a_batch_of_queries_gets_one_ranked_list_each(index):
    queries = ["Kubrick monolith", "striped cat", "Ode to Joy symphony"]
    for mode in ("bm25", "dense", "hybrid"):
        results = index.search(queries, mode=mode, k=3)
        assert [hits[0].title for hits in results] == [
            "2001: A Space Odyssey",
            "Tiger",
            "Beethoven",
        ]
        assert all(len(hits) == 3 for hits in results) or mode == "bm25"


def test_dense_search_accepts_query_vectors(index):
    vectors = default_embedder().encode(["largest hot desert in Africa"])
    [hits] = index.search(vectors, mode="dense", k=2)
    assert hits[0].title == "Sahara"
    assert 0.0 < hits[0].score <= 1.0  # cosine similarity
    with pytest.raises(ValueError, match="texts"):
        index.search(vectors, mode="hybrid")


def test_bad_arguments_are_rejected(index):
    with pytest.raises(ValueError, match="mode"):
        index.search(["x"], mode="sparse")
    with pytest.raises(TypeError, match="list"):
        index.search("a bare string", mode="bm25")
    assert index.search([], mode="bm25") == []
    assert index.search(["   "], mode="bm25") == [[]]


def test_rrf_sums_weighted_reciprocal_ranks():
    rankings = {"bm25": ["a", "b", "c"], "dense": ["c", "a"]}
    fused = reciprocal_rank_fusion(rankings, k=60)
    assert [item for item, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2][1] == pytest.approx(1 / 62)
    weighted = reciprocal_rank_fusion(rankings, {"bm25": 1.0, "dense": 3.0}, k=60)
    assert [item for item, _ in weighted] == ["c", "a", "b"]
    assert weighted[0][1] == pytest.approx(1 / 63 + 3 / 61)
    only_bm25 = reciprocal_rank_fusion(rankings, {"bm25": 1.0, "dense": 0.0}, k=60)
    assert [item for item, _ in only_bm25] == ["a", "b", "c"]


def test_rrf_ties_break_by_best_rank_then_id():
    fused = reciprocal_rank_fusion({"x": ["b", "a"], "y": ["a", "b"]}, k=0)
    assert [item for item, _ in fused] == ["a", "b"]  # equal scores, equal best rank


def test_hybrid_weights_are_used(index_dir):
    query = ["Kubrick monolith Jupiter"]
    bm25_only = SearchIndex(index_dir, settings=SearchSettings(dense_weight=0.0))
    dense_only = SearchIndex(index_dir, settings=SearchSettings(bm25_weight=0.0))
    lexical = [hit.passage_id for hit in bm25_only.search(query, "bm25", k=3)[0]]
    assert [hit.passage_id for hit in bm25_only.search(query, "hybrid", k=3)[0]] == lexical
    semantic = [hit.passage_id for hit in dense_only.search(query, "dense", k=3)[0]]
    assert [hit.passage_id for hit in dense_only.search(query, "hybrid", k=3)[0]] == semantic


def test_blocked_urls_and_documents_never_appear_and_do_not_cost_slots(index):
    query = ["Kubrick science fiction film monolith"]
    for mode in ("bm25", "dense", "hybrid"):
        [[top]] = index.search(query, mode=mode, k=1)
        blocked_url = top.url
        [hits] = index.search(query, mode=mode, k=5, block_urls=[blocked_url, "it's'quoted"])
        assert blocked_url not in {hit.url for hit in hits}
        if mode != "bm25":
            assert len(hits) == 5
        [hits] = index.search(query, mode=mode, k=5, block_doc_ids=[top.doc_id])
        assert top.doc_id not in {hit.doc_id for hit in hits}


def test_block_filter_escapes_quotes():
    assert block_filter() is None
    assert block_filter(["a'b"], ["d1"]) == "url NOT IN ('a''b') AND doc_id NOT IN ('d1')"


def test_small_tables_use_exact_search(index):
    assert index.vector_index is None
    assert index.count() == len(FACTS)


def test_rebuilding_the_same_passages_is_idempotent(passages, tmp_path):
    first = build_index(passages, tmp_path)
    again = build_index(passages, tmp_path)
    assert not again.rebuilt
    assert (again.version, again.row_count, again.fingerprint) == (
        first.version,
        first.row_count,
        first.fingerprint,
    )
    forced = build_index(passages, tmp_path, force=True)
    assert forced.rebuilt
    assert forced.version > first.version
    assert forced.row_count == passages.height == SearchIndex(tmp_path).count()
    assert forced.fingerprint == first.fingerprint
    assert build_index(passages.head(10), tmp_path).row_count == 10  # overwritten, not appended


def test_added_passages_are_found_and_upserts_do_not_duplicate(passages, tmp_path):
    build_index(passages, tmp_path)
    extra = _passages(
        {
            "Zanzibar": "Zanzibar is an archipelago off the coast of Tanzania, famous for cloves "
            "and the spice trade."
        }
    )
    info = add_passages(extra, tmp_path)
    assert info.row_count == passages.height + 1
    index = SearchIndex(tmp_path)
    for mode in ("bm25", "dense", "hybrid"):
        [hits] = index.search(["spice islands near Tanzania cloves"], mode=mode, k=3)
        assert hits[0].title == "Zanzibar"
    assert add_passages(extra, tmp_path).row_count == passages.height + 1
    assert build_index(passages, tmp_path).rebuilt  # the table changed since: build again


def test_an_ann_index_is_built_past_the_threshold_and_still_finds_passages(passages, tmp_path):
    settings = IndexSettings(ann_min_rows=10, num_partitions=1)
    info = build_index(passages, tmp_path, settings=settings)
    assert info.vector_index is not None
    index = SearchIndex(tmp_path)
    assert index.vector_index == info.vector_index
    [hits] = index.search(["which big cat has striped fur"], mode="dense", k=3)
    assert hits[0].title == "Tiger"


def test_passages_of_a_document_carry_offsets_and_vectors(index, passages):
    doc_id = passages["doc_id"][0]
    rows = index.passages_of(doc_id)
    assert (
        rows["passage_id"].to_list()
        == passages.filter(pl.col("doc_id") == doc_id)["passage_id"].to_list()
    )
    assert rows["vector"].to_numpy().shape == (rows.height, 384)
    assert np.all(rows["end_char"].to_numpy() > rows["start_char"].to_numpy())
