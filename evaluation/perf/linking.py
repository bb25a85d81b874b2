"""Benchmark of entity linking against the hyperlinks of a real site, which nobody labeled.

The site is Debian's `python3.11-doc` package (the Python documentation), served on loopback
and crawled as `sailyard bench web_crawl` does (its `serve_directory`, `crawl_site` and
`html_snapshots`); its HTML pages become documents with `build_documents` (near duplicates
off), one entity per document. Then: hide the links, link the text, compare.

1. Gold (`evaluation.linking_quality.gold_items`): the link rows of the pages
   (`snapshot_links`); on page A, a link to page B whose anchor text occurs in A's text (by
   match key, whole words) says "this anchor names B". Self-links (fragment-only ones
   included), links to no entity, anchors that name nothing ("[1]", "next") and anchors not
   in the extracted text (navigation) are dropped, counted by reason; an anchor of one page
   pointing at several pages is ambiguous, counted, not scored.
2. Entities without anchor aliases (`build_entities(documents, links=None, countries=[])`),
   so the gold never leaks into the alias table: the main figure ("title aliases").
   A second alias table adds names a code-documentation site gives its pages, derived from
   titles and text only (`with_code_doc_aliases`: "os.path" from "os.path — Common pathname
   manipulations¶", "os.path.join" from any text) — an experiment in evaluation code, not
   what the pipeline does. The leaky upper bound (anchor texts as aliases) is not run: its
   ~430k mentions take ~6 min to link on 2 cores.
3. `build_mentions` with the default embedder (loaded and warmed before timing) on each
   alias table: mentions/s. Prediction for a gold item: the majority entity of the mentions
   of A with the anchor's match key (`score_items`). A `self` link (the page's own entity)
   is never correct: links of a page to itself are not gold.
4. Same-run baseline on the same alias index and the same matches: `naive_decisions` (own
   page, else the unique candidate, else the most popular one; no context, no NIL), timed
   from the alias index to the rows, so the table shows what context linking costs and the
   quality table what it gains.
Printed: mentions/s against the baseline, P/R/F1 with outcome counts per linker, precision
per linking method, gold items and recall by section of the site, and the most frequent
errors of each kind.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl
from rich.console import Console, RenderableType
from rich.table import Table

from evaluation.linking_quality import (
    CORRECT,
    NO_MATCH,
    UNLINKED,
    WRONG,
    Gold,
    LinkingQuality,
    error_patterns,
    gold_items,
    naive_decisions,
    score_items,
    summarize,
    summarize_by,
    with_code_doc_aliases,
)
from evaluation.perf.report import BenchReport, Measurement, Result, best_of
from evaluation.perf.web_crawl import (
    DOCS_DIR,
    SEED_PATH,
    crawl_site,
    html_snapshots,
    serve_directory,
)
from lakehouse.errors import SailyardError
from lakehouse.index.embedder import default_embedder
from lakehouse.knowledge.entities import build_entities, snapshot_links
from lakehouse.knowledge.mentions import (
    Embed,
    build_alias_index,
    build_mentions,
    find_surface_matches,
    mention_rows,
)
from lakehouse.web.documents import QualitySettings, build_documents
from lakehouse.workers import default_workers

TITLE_ALIASES = "title aliases"
CODE_DOC_ALIASES = "+code-doc aliases"
EXAMPLES = 10  # error patterns shown per kind and alias table
SECTIONS_SHOWN = 8


def sailyard_name(aliases: str) -> str:
    return f"build_mentions, {aliases}"


def naive_name(aliases: str) -> str:
    return f"naive linker, {aliases}"


@dataclass(frozen=True)
class Example:
    """One frequent error pattern: what pages wrote, where they linked, what was predicted.

    Pages are shown by their URL path ("library/ssl.html"): shorter than their titles.
    """

    aliases: str
    kind: str
    anchor: str
    gold: str
    predicted: str
    why: str  # the method of the prediction, or why nothing matched
    n_items: int


@dataclass
class LinkingReport(BenchReport):
    """The linking bench report: throughput rows plus quality, methods and error examples."""

    quality: dict[str, LinkingQuality] = field(default_factory=dict)  # linker name → quality
    examples: list[Example] = field(default_factory=list)

    def renderables(self) -> list[RenderableType]:
        """Throughput vs baseline, quality per linker, precision per method, error examples."""
        quality = Table(title="linking quality (gold: the site's links)", title_justify="left")
        columns = ("linker", "gold items", "P", "R", "F1", "correct", "wrong", "unlinked")
        for column in (*columns, "no match"):
            quality.add_column(column, justify="left" if column == "linker" else "right")
        methods = Table(title="precision by linking method", title_justify="left")
        for column in ("linker", "method", "linked", "correct", "P"):
            methods.add_column(
                column, justify="right" if column in ("linked", "correct", "P") else "left"
            )
        for name, scores in self.quality.items():
            counts = scores.outcomes
            quality.add_row(
                name,
                f"{scores.n_items:,}",
                f"{scores.precision:.3f}",
                f"{scores.recall:.3f}",
                f"{scores.f1:.3f}",
                *(f"{counts[outcome]:,}" for outcome in (CORRECT, WRONG, UNLINKED, NO_MATCH)),
            )
            for method, (linked, correct) in sorted(scores.by_method.items()):
                methods.add_row(
                    name,
                    method,
                    f"{linked:,}",
                    f"{correct:,}",
                    f"{scores.method_precision(method):.3f}",
                )
        return [self.table(), quality, methods, *self.example_tables()]

    def example_tables(self) -> list[Table]:
        """One table of the most frequent errors per alias table."""
        tables: dict[str, Table] = {}
        for example in self.examples:
            if example.aliases not in tables:
                tables[example.aliases] = table = Table(
                    title=f"most frequent errors, {example.aliases}", title_justify="left"
                )
                for column in ("kind", "anchor", "gold page", "predicted", "why", "items"):
                    table.add_column(column, justify="right" if column == "items" else "left")
            tables[example.aliases].add_row(
                example.kind,
                example.anchor,
                example.gold,
                example.predicted,
                example.why,
                f"{example.n_items:,}",
            )
        return list(tables.values())


def section_of(url: str) -> str:
    """A page's section of its site: the first path segment ("library"); for a page at the
    top, its file name up to the first "-" or "." ("genindex-A.html" → "genindex")."""
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    if not segments:
        return "/"
    if len(segments) > 1:
        return segments[0]
    return segments[0].replace("-", ".").split(".")[0] or segments[0]


def page_path(url: str | None) -> str:
    """A page URL without scheme and host ("library/ssl.html"), or "—" for none."""
    if not url:
        return "—"
    return urlsplit(url).path.lstrip("/") or "/"


def examples_of(aliases: str, scored: pl.DataFrame, urls: dict[str, str]) -> list[Example]:
    """The EXAMPLES most frequent error patterns of each kind (wrong, unlinked, no match)."""
    return [
        Example(
            aliases,
            kind,
            row["anchor"],
            page_path(urls.get(row["gold_entity_id"])),
            page_path(urls.get(row["predicted_entity_id"] or "")),
            row["why"],
            row["n_items"],
        )
        for kind in (WRONG, UNLINKED, NO_MATCH)
        for row in error_patterns(scored, kind, EXAMPLES).iter_rows(named=True)
    ]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {n:,}" for key, n in sorted(counts.items(), key=lambda kv: -kv[1]))


TARGETS_SHOWN = 3  # targets listed per ambiguous anchor


def gold_notes(gold: Gold, urls: dict[str, str]) -> list[str]:
    """How the link rows became gold items: kept, dropped by reason, ambiguous (the anchors
    ambiguous on most pages, with the targets of one of those pages)."""
    dropped = sum(gold.dropped.values())
    common = (
        gold.ambiguous.group_by("anchor_key")
        .agg(pl.len().alias("pages"), pl.col("anchor").min(), pl.col("gold_entity_ids").first())
        .sort(["pages", "anchor_key"], descending=[True, False])
        .head(EXAMPLES // 2)
    )
    examples = "; ".join(
        f"{anchor!r} on {pages:,} pages (e.g. → "
        f"{', '.join(page_path(urls.get(e)) for e in ids[:TARGETS_SHOWN])}"
        f"{f' and {len(ids) - TARGETS_SHOWN} more' if len(ids) > TARGETS_SHOWN else ''})"
        for _key, pages, anchor, ids in common.iter_rows()
    )
    return [
        f"gold: {gold.n_links:,} link rows → {gold.items.height:,} gold items (page, anchor key) "
        f"from {gold.n_links - dropped:,} rows; dropped {{{_counts(dict(gold.dropped))}}}; "
        f"{gold.ambiguous.height:,} (page, anchor) pairs ambiguous (several target pages), "
        f"not scored{': ' + examples if examples else ''}"
    ]


def section_notes(
    scored: dict[str, pl.DataFrame], group_of: dict[str, str], linkers: list[str]
) -> list[str]:
    """Gold items and each linker's recall by section of the site (largest sections first)."""
    by_linker = {name: summarize_by(scored[name], group_of) for name in linkers}
    sections = list(by_linker[linkers[0]])[:SECTIONS_SHOWN]
    parts = []
    for section in sections:
        recalls = ", ".join(f"{by_linker[name][section].recall:.3f}" for name in linkers)
        parts.append(f"{section} {by_linker[linkers[0]][section].n_items:,} ({recalls})")
    return [f"gold items by section (recall of: {'; '.join(linkers)}): " + "; ".join(parts)]


def _timed(console: Console, what: str, work: Callable[[], Result]) -> tuple[Result, float]:
    console.print(what)
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


@dataclass(frozen=True)
class LinkRuns:
    """The context linker's and the naive linker's mentions on one alias table, timed."""

    mentions: pl.DataFrame
    seconds: float
    naive: pl.DataFrame
    naive_seconds: float
    alias_keys: frozenset[str]

    @property
    def same_matches(self) -> bool:
        return self.mentions.select("mention_id").equals(self.naive.select("mention_id"))


def link_both_ways(
    entities: pl.DataFrame,
    documents: pl.DataFrame,
    embed: Embed,
    own_entity: dict[str, str],
    repeat: int,
    console: Console,
) -> LinkRuns:
    """`build_mentions` and the naive linker (alias index to rows) on `entities`, best of
    `repeat` each."""
    console.print(f"build_mentions on {documents.height:,} documents, {entities.height:,} entities")
    mentions, seconds = best_of(repeat, lambda: build_mentions(documents, entities, embed))

    def naive() -> pl.DataFrame:
        index = build_alias_index(entities)
        matches = find_surface_matches(documents, index)
        return mention_rows(matches, naive_decisions(matches, index, own_entity), index)

    console.print("naive linker on the same alias index")
    naive_rows, naive_seconds = best_of(repeat, naive)
    alias_keys = frozenset(build_alias_index(entities).candidates)
    return LinkRuns(mentions, seconds, naive_rows, naive_seconds, alias_keys)


@dataclass(frozen=True)
class Corpus:
    """The crawled site: its documents, the link rows of its HTML pages, and what it cost."""

    documents: pl.DataFrame
    links: pl.DataFrame  # (source_snapshot_id, url, text)
    n_fetches: int
    n_html: int
    crawl_seconds: float
    extract_seconds: float


def crawl_corpus(site_dir: Path, console: Console) -> Corpus:
    """Serve `site_dir` on loopback, crawl it, and build its documents (near duplicates off)."""
    with serve_directory(site_dir) as base_url:
        console.print(f"serving {site_dir} at {base_url}; crawling")
        fetches, crawl_seconds = crawl_site(base_url, console)
    snapshots = html_snapshots(fetches)
    if snapshots.height == 0:
        raise SailyardError(f"the crawl of {site_dir} returned no HTML page")
    built, extract_seconds = _timed(
        console,
        f"building documents from {snapshots.height:,} HTML pages",
        lambda: build_documents(
            snapshots, QualitySettings(), workers=default_workers(), near_dup=None
        ),
    )
    return Corpus(
        built.documents,
        snapshot_links(snapshots),
        len(fetches),
        snapshots.height,
        crawl_seconds,
        extract_seconds,
    )


def measure_linking(site_dir: Path, repeat: int, console: Console) -> LinkingReport:
    """The whole benchmark on the site in `site_dir` (a directory with `index.html`)."""
    if not (site_dir / SEED_PATH.lstrip("/")).is_file():
        raise SailyardError(
            f"no site to crawl at {site_dir} (no {SEED_PATH.lstrip('/')}): the benchmark "
            "links the Python documentation; install it with `apt-get install python3.11-doc`"
        )
    wall_started = time.perf_counter()
    report = LinkingReport(stage="linking")
    corpus = crawl_corpus(site_dir, console)
    documents, links = corpus.documents, corpus.links
    entities = build_entities(documents, links=None, countries=[])
    alias_tables = {
        TITLE_ALIASES: entities,
        CODE_DOC_ALIASES: with_code_doc_aliases(entities, documents),
    }
    gold, gold_seconds = _timed(
        console,
        "building gold items from the links",
        lambda: gold_items(links, documents, entities),
    )
    console.print(f"  {gold.items.height:,} gold items")

    embedder, load_seconds = _timed(console, "loading the default embedder", default_embedder)
    embedder.encode(["warm-up"])
    own_entity = dict(entities.select("doc_id", "entity_id").iter_rows())
    urls = dict(entities.select("entity_id", "url").iter_rows())
    scored: dict[str, pl.DataFrame] = {}
    same_matches = []
    for aliases, table in alias_tables.items():
        runs = link_both_ways(table, documents, embedder.encode, own_entity, repeat, console)
        report.add(
            Measurement(sailyard_name(aliases), runs.mentions.height, runs.seconds, "mentions")
        )
        report.add(
            Measurement(
                naive_name(aliases),
                runs.naive.height,
                runs.naive_seconds,
                "mentions",
                baseline_of=sailyard_name(aliases),
            )
        )
        same_matches.append(runs.same_matches)
        for name, rows in (
            (sailyard_name(aliases), runs.mentions),
            (naive_name(aliases), runs.naive),
        ):
            scored[name] = score_items(gold.items, rows, runs.alias_keys)
            report.quality[name] = summarize(scored[name])
        report.examples += examples_of(aliases, scored[sailyard_name(aliases)], urls)

    n_chars = documents.get_column("text").str.len_chars().sum()
    report.notes.append(
        f"corpus: {corpus.n_fetches:,} fetches in {corpus.crawl_seconds:.1f} s, "
        f"{corpus.n_html:,} HTML pages → {documents.height:,} documents ({n_chars:,} "
        f"characters) in {corpus.extract_seconds:.1f} s; {entities.height:,} entities; embedder "
        f"{embedder.model_id} loaded in {load_seconds:.1f} s (outside the timings); "
        f"gold built in {gold_seconds:.1f} s"
    )
    report.notes += gold_notes(gold, urls)
    for aliases in alias_tables:
        ours = report.quality[sailyard_name(aliases)]
        base = report.quality[naive_name(aliases)]
        report.notes.append(
            f"{aliases}: context linker {ours.summary()}; vs the naive linker P "
            f"{ours.precision - base.precision:+.3f}, R {ours.recall - base.recall:+.3f}, "
            f"F1 {ours.f1 - base.f1:+.3f}"
        )
    group_of = {doc: section_of(url) for doc, url in documents.select("doc_id", "url").iter_rows()}
    report.notes += section_notes(scored, group_of, [sailyard_name(a) for a in alias_tables])
    same = "yes" if all(same_matches) else "NO"
    report.notes.append(
        f"naive and context linker ran on the same matches: {same}; best of {repeat}; "
        f"whole benchmark {time.perf_counter() - wall_started:.0f} s wall"
    )
    return report


def run_linking_benchmark(repeat: int, console: Console) -> LinkingReport:
    """Measure entity linking against the links of the Python documentation."""
    return measure_linking(DOCS_DIR, repeat, console)
