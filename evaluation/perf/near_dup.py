"""Benchmark of near-duplicate clustering on a corpus with planted near duplicates.

The corpus (seeded, deterministic) starts from the distinct recorded Wikipedia summaries of
all three languages, the originals, followed by copies in shuffled order:
- light copies: one word substituted, inserted or deleted (two for summaries of 120 words or
  more), one word upper-cased and, for half of them, doubled spaces (the last two vanish in
  `dedup_key`). Ground truth: a light copy is a near duplicate of its original when the exact
  Jaccard similarity of their shingle sets reaches the threshold; a light copy below it (one
  edit in a short summary) is "borderline" and counted neither way.
- heavy copies: 40% of the words replaced by corpus words (Jaccard ≈ 0.04): must not cluster.

Sailyard's `near_duplicate_clusters` (2 workers and 1) is measured against raw datasketch in
the same run: one `MinHash` per document with `update_batch`, `MinHashLSH` insert, then a
query per document, in one process. A document is flagged as a duplicate of its canonical
member (Sailyard) or of its earliest LSH candidate (datasketch); a flag is right when both
documents come from the same original and the flagged one is a true near duplicate.
"""

import random
from dataclasses import dataclass, field

import numpy as np
from rich.console import Console

from evaluation.perf.report import BenchReport, Measurement, best_of
from lakehouse.web import replay
from lakehouse.web.near_duplicates import NearDupSettings, near_duplicate_clusters
from lakehouse.web.normalize import dedup_key

LANGUAGES = ("en", "fr", "es")
CORPUS_SEED = 0
# Shares of the corpus: originals (capped at the 26,210 distinct recorded summaries), then the
# copies, of which LIGHT_SHARE are light: at 100,000 documents, 26,210 originals, 36,895 light
# and 36,895 heavy copies.
ORIGINAL_SHARE = 0.27
LIGHT_SHARE = 0.5
LONG_TEXT_WORDS = 120  # a light copy of a summary this long gets two word edits, not one
HEAVY_EDIT_SHARE = 0.4  # share of words a heavy copy replaces
SAILYARD_WORKERS = (2, 1)


@dataclass(frozen=True)
class PlantedCorpus:
    """Texts in input order (originals first) with what each one should be matched to."""

    texts: list[str]
    family: np.ndarray  # int64: the original a light copy comes from, else the text's own index
    true_duplicate: np.ndarray  # bool: a light copy at or above the threshold
    borderline: np.ndarray  # bool: a light copy below the threshold (left out of the scores)
    n_originals: int
    n_light: int
    n_heavy: int


@dataclass(frozen=True)
class Quality:
    """How the flags of one method compare with the planted ground truth."""

    flagged: int  # documents flagged as near duplicates of another (borderline ones left out)
    correct: int  # flagged, a true near duplicate, and matched to a text of its own family
    true_duplicates: int

    @property
    def precision(self) -> float:
        return self.correct / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_duplicates if self.true_duplicates else 1.0


@dataclass
class NearDupReport(BenchReport):
    """A bench report that also holds each method's precision and recall."""

    quality: dict[str, Quality] = field(default_factory=dict)


def shingles(text: str, size: int) -> list[str]:
    """Word shingles of `dedup_key(text)` as strings: the straightforward reference form."""
    words = dedup_key(text).split() or [""]
    if len(words) < size:
        return [" ".join(words)]
    return [" ".join(words[start : start + size]) for start in range(len(words) - size + 1)]


def _jaccard(a: list[str], b: list[str]) -> float:
    set_a, set_b = set(a), set(b)
    return len(set_a & set_b) / len(set_a | set_b)


def _light_edit(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    words = text.split()
    for _ in range(1 if len(words) < LONG_TEXT_WORDS else 2):
        position = rng.randrange(len(words))
        operation = rng.choice(("substitute", "insert", "delete"))
        if operation == "substitute":
            words[position] = rng.choice(vocabulary)
        elif operation == "insert":
            words.insert(position, rng.choice(vocabulary))
        elif len(words) > 1:
            del words[position]
    position = rng.randrange(len(words))
    words[position] = words[position].upper()
    return ("  " if rng.random() < 0.5 else " ").join(words)


def _heavy_edit(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    words = text.split()
    for position in rng.sample(range(len(words)), round(len(words) * HEAVY_EDIT_SHARE)):
        words[position] = rng.choice(vocabulary)
    return " ".join(words)


def planted_corpus(
    n_docs: int, settings: NearDupSettings, seed: int = CORPUS_SEED
) -> PlantedCorpus:
    """`n_docs` texts: recorded summaries, then light and heavy copies in shuffled order."""
    # Without repeats: 17 summaries are recorded twice (under two keys), and unplanted
    # duplicates would count as false positives against the planted truth.
    by_key: dict[str, str] = {}
    for language in LANGUAGES:
        for record in replay.load_records(language).values():
            by_key.setdefault(dedup_key(record["extract"]), record["extract"])
    summaries = list(by_key.values())
    rng = random.Random(seed)
    n_originals = min(len(summaries), round(n_docs * ORIGINAL_SHARE))
    originals = summaries if n_originals == len(summaries) else rng.sample(summaries, n_originals)
    vocabulary = [word for text in originals for word in text.split()]
    n_light = round((n_docs - n_originals) * LIGHT_SHARE)
    n_heavy = n_docs - n_originals - n_light
    copies = [(True, rng.randrange(n_originals)) for _ in range(n_light)]
    copies += [(False, rng.randrange(n_originals)) for _ in range(n_heavy)]
    rng.shuffle(copies)

    texts = list(originals)
    family = list(range(n_originals))
    true_duplicate = [False] * n_originals
    borderline = [False] * n_originals
    original_shingles: dict[int, list[str]] = {}
    for light, source in copies:
        if light:
            text = _light_edit(originals[source], rng, vocabulary)
            if source not in original_shingles:
                original_shingles[source] = shingles(originals[source], settings.shingle_size)
            jaccard = _jaccard(original_shingles[source], shingles(text, settings.shingle_size))
            family.append(source)
            true_duplicate.append(jaccard >= settings.threshold)
            borderline.append(jaccard < settings.threshold)
        else:
            text = _heavy_edit(originals[source], rng, vocabulary)
            family.append(len(texts))
            true_duplicate.append(False)
            borderline.append(False)
        texts.append(text)
    return PlantedCorpus(
        texts=texts,
        family=np.array(family, dtype=np.int64),
        true_duplicate=np.array(true_duplicate),
        borderline=np.array(borderline),
        n_originals=n_originals,
        n_light=n_light,
        n_heavy=n_heavy,
    )


def score(corpus: PlantedCorpus, duplicate_of: dict[int, int]) -> Quality:
    """Compare flags {document: the document it duplicates} with the ground truth."""
    flagged = correct = 0
    for document, match in duplicate_of.items():
        if corpus.borderline[document]:
            continue
        flagged += 1
        same_family = corpus.family[document] == corpus.family[match]
        correct += bool(corpus.true_duplicate[document] and same_family)
    return Quality(flagged, correct, int(corpus.true_duplicate.sum()))


def raw_datasketch(texts: list[str], settings: NearDupSettings) -> dict[int, int]:
    """The straightforward datasketch way: {document: its earliest LSH candidate before it}."""
    # Imported here, not at the top: worker processes spawned by `near_duplicate_clusters`
    # re-import the main module, and datasketch (with scipy) adds ~0.5 s to each one's start.
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
    minhashes = []
    for index, text in enumerate(texts):
        minhash = MinHash(num_perm=settings.num_perm, seed=settings.seed)
        minhash.update_batch([s.encode("utf-8") for s in shingles(text, settings.shingle_size)])
        lsh.insert(index, minhash)
        minhashes.append(minhash)
    duplicate_of = {}
    for index, minhash in enumerate(minhashes):
        earlier = [key for key in lsh.query(minhash) if key < index]
        if earlier:
            duplicate_of[index] = min(earlier)
    return duplicate_of


def sailyard_flags(texts: list[str], settings: NearDupSettings, workers: int) -> dict[int, int]:
    """{document: its cluster's canonical member} for every non-canonical cluster member."""
    doc_ids = [str(index) for index in range(len(texts))]
    clusters = near_duplicate_clusters(doc_ids, texts, settings, workers=workers)
    members = clusters.filter(clusters["doc_id"] != clusters["canonical_doc_id"])
    return {
        int(doc): int(canonical)
        for doc, canonical in members.select("doc_id", "canonical_doc_id").iter_rows()
    }


def run_near_dup_benchmark(repeat: int, console: Console, n_docs: int = 100_000) -> NearDupReport:
    """Measure near-duplicate clustering against raw datasketch on a planted corpus."""
    settings = NearDupSettings()
    report = NearDupReport(stage="near_dup")
    console.print(f"building a planted corpus of {n_docs:,} documents")
    corpus = planted_corpus(n_docs, settings)
    raw_name = "raw datasketch MinHash + MinHashLSH, 1 process"
    for workers in SAILYARD_WORKERS:
        console.print(f"near_duplicate_clusters, {workers} worker(s) ×{repeat}")
        name = f"near_duplicate_clusters, {workers} worker(s)"
        flags, seconds = best_of(
            repeat, lambda w=workers: sailyard_flags(corpus.texts, settings, w)
        )
        report.add(Measurement(name, n_docs, seconds, "docs"))
        report.quality[name] = score(corpus, flags)
    console.print(f"{raw_name} ×{repeat}")
    flags, seconds = best_of(repeat, lambda: raw_datasketch(corpus.texts, settings))
    for workers in SAILYARD_WORKERS:
        subject = f"near_duplicate_clusters, {workers} worker(s)"
        report.add(Measurement(raw_name, n_docs, seconds, "docs", baseline_of=subject))
    report.quality[raw_name] = score(corpus, flags)

    bands, rows = settings.band_rows
    report.notes.append(
        f"corpus: {corpus.n_originals:,} distinct recorded summaries ({', '.join(LANGUAGES)}), "
        f"{corpus.n_light:,} light copies ({int(corpus.true_duplicate.sum()):,} at Jaccard ≥ "
        f"{settings.threshold}, {int(corpus.borderline.sum()):,} borderline, not scored), "
        f"{corpus.n_heavy:,} heavy copies; {settings.shingle_size}-word shingles, "
        f"num_perm={settings.num_perm}, {bands} bands × {rows} rows"
    )
    for name, quality in report.quality.items():
        report.notes.append(
            f"{name}: precision {quality.precision:.4f}, recall {quality.recall:.4f} "
            f"({quality.correct:,} right of {quality.flagged:,} flagged, "
            f"{quality.true_duplicates:,} planted)"
        )
    return report
