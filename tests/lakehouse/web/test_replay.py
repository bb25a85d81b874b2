import json

import polars as pl
import pytest

from lakehouse.errors import SourceError
from lakehouse.web import replay


def test_canonical_url_matches_wikipedia_links():
    assert (
        replay.canonical_wikipedia_url("2001: A Space Odyssey", "en")
        == "https://en.wikipedia.org/wiki/2001:_A_Space_Odyssey"
    )
    assert (
        replay.canonical_wikipedia_url("Łódź", "en")
        == "https://en.wikipedia.org/wiki/%C5%81%C3%B3d%C5%BA"
    )
    assert replay.canonical_wikipedia_url("AC/DC", "fr") == "https://fr.wikipedia.org/wiki/AC/DC"


def test_a_readable_record_becomes_a_200_snapshot_of_its_canonical_url():
    record = {"title": "Ada Lovelace", "extract": "Ada was a mathematician.", "topic": "People"}
    row = replay.record_fetch("Ada Lovelace", record, "en", "pkg==1").to_row("crawl")
    assert row["status"] == 200
    assert row["error"] is None
    assert row["url"] == "https://en.wikipedia.org/wiki/Ada_Lovelace"
    assert json.loads(row["body"]) == record
    assert row["body_bytes"] == len(row["body"])
    assert json.loads(row["headers"])["content-language"] == "en"
    assert row["snapshot_id"].startswith("snap_")
    assert row["body_ref"].endswith("summaries_en-us.json#Ada Lovelace")


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (["not", "an", "object"], "expected a JSON object, got list"),
        ({"extract": "no title"}, "field 'title' is missing"),
        ({"title": "   ", "extract": "blank title"}, "field 'title' is missing"),
    ],
)
def test_an_unreadable_record_becomes_an_error_row(record, error):
    row = replay.record_fetch("Broken", record, "en", "pkg==1").to_row("crawl")
    assert row["status"] is None
    assert row["body"] is None
    assert error in row["error"]
    assert "'Broken'" in row["error"]
    assert row["url"] == "https://en.wikipedia.org/wiki/Broken"


def test_select_keys_is_deterministic_sorted_and_seeded():
    keys = [f"k{i}" for i in range(100)]
    first = replay.select_keys(keys, 10, seed=0)
    assert first == replay.select_keys(list(reversed(keys)), 10, seed=0)
    assert first == sorted(first)
    assert len(first) == 10
    assert first != replay.select_keys(keys, 10, seed=1)
    assert replay.select_keys(keys, None, seed=0) == sorted(keys)


def test_unknown_language_is_an_error_listing_the_available_ones():
    with pytest.raises(SourceError, match="language 'de'; available: en, es, fr"):
        replay.corpus_file("de")


def test_the_whole_recorded_english_crawl_replays_without_errors():
    frame = replay.replay_snapshots("all", replay.ReplaySettings())
    assert frame.height == 10_033 + 256  # the articles, then the Factbook's profiles
    assert frame.get_column("error").null_count() == frame.height
    assert frame.get_column("snapshot_id").n_unique() == frame.height
    assert frame.get_column("url").n_unique() == frame.height


def test_replay_of_a_slice_is_reproducible():
    settings = replay.ReplaySettings(limit=50, sample_seed=3)
    first = replay.replay_snapshots("c", settings)
    assert first.equals(replay.replay_snapshots("c", settings))
    # the seeded sample spreads over the corpus instead of taking its alphabetical head
    topics = {json.loads(body)["topic"] for body in first.get_column("body")}
    assert len(topics) >= 6


def test_factbook_profiles_replay_after_the_articles_at_their_factbook_urls():
    with_factbook = replay.replay_snapshots("c", replay.ReplaySettings(limit=5))
    without = replay.replay_snapshots("c", replay.ReplaySettings(limit=5, include_factbook=False))
    assert without.height == 5
    profiles = with_factbook.slice(5)
    assert profiles.height == 256
    france = profiles.filter(pl.col("url").str.ends_with("/countries/france/"))
    record = json.loads(france.item(0, "body"))
    assert record["title"] == "France"
    assert "The capital of France is Paris." in record["text"]
    assert france.item(0, "body_ref").endswith(":fr")
