"""One entry point for every web source: settings in, `Fetch` records out.

The `web_snapshots` asset calls `collect_fetches` with the settings of exactly one source:
the recorded Wikipedia crawl, a live HTTP crawl, WARC files, or a bring-your-own corpus.
"""

from collections import Counter
from pathlib import Path

from lakehouse.web import corpus_source, crawler, replay, warc_source
from lakehouse.web.snapshots import Fetch
from lakehouse.workers import ProgressCallback

SourceSettings = (
    replay.ReplaySettings
    | crawler.CrawlSettings
    | warc_source.WarcSettings
    | corpus_source.CorpusSettings
)
# The snapshots step changes when any source changes.
CODE_VERSION = "+".join(
    (
        replay.CODE_VERSION,
        crawler.CODE_VERSION,
        warc_source.CODE_VERSION,
        corpus_source.CODE_VERSION,
    )
)


def source_kind(settings: SourceSettings) -> str:
    """replay, http, warc or corpus."""
    return {
        replay.ReplaySettings: "replay",
        crawler.CrawlSettings: "http",
        warc_source.WarcSettings: "warc",
        corpus_source.CorpusSettings: "corpus",
    }[type(settings)]


def source_code_version(settings: SourceSettings) -> str:
    """The code version stamped on the rows one source produced."""
    return {
        "replay": replay.CODE_VERSION,
        "http": crawler.CODE_VERSION,
        "warc": warc_source.CODE_VERSION,
        "corpus": corpus_source.CODE_VERSION,
    }[source_kind(settings)]


def collect_fetches(
    crawl_id: str,
    settings: SourceSettings,
    crawl_state_dir: Path,
    progress: ProgressCallback | None = None,
) -> tuple[list[Fetch], dict[str, int]]:
    """Every fetch of one crawl, plus counts worth showing (record types, errors).

    A live crawl keeps its state in `crawl_state_dir` and resumes from it when re-run;
    the other sources are re-read from their files.
    """
    counts: Counter = Counter()
    if isinstance(settings, crawler.CrawlSettings):
        fetches = crawler.run_crawl(crawl_id, settings, crawl_state_dir, progress)
    elif isinstance(settings, warc_source.WarcSettings):
        stats = warc_source.WarcReadStats()
        fetches = list(warc_source.iter_fetches(settings, stats))
        counts.update({f"warc_{kind}_records": n for kind, n in stats.record_types.items()})
    elif isinstance(settings, corpus_source.CorpusSettings):
        fetches = list(corpus_source.iter_fetches(settings))
    else:
        fetches = list(replay.iter_fetches(settings))
    counts["fetches"] = len(fetches)
    counts["errors"] = sum(1 for fetch in fetches if fetch.error is not None)
    counts["with_body"] = sum(1 for fetch in fetches if fetch.body is not None)
    return fetches, dict(counts)
