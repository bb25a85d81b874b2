"""Near-duplicate documents: MinHash signatures, LSH banding, verified pairs, clusters.

A document is the set of its word shingles: `shingle_size` consecutive words of its
`dedup_key` form (case-folded, single-spaced). Two documents are near duplicates when the
Jaccard similarity of their shingle sets is at least `threshold`; a cluster is a connected
component of near-duplicate pairs, and its canonical member is the one that comes first in the
input (the caller orders documents by preference).

1. In worker processes (`lakehouse.workers.map_batches`), per batch: words → 64-bit word
   hashes (rensa) → shingle hashes (a numpy rolling combination of word hashes) → MinHash
   signature (rensa) → one 64-bit hash per LSH band.
2. Here: documents sharing a band hash are candidate pairs (a Polars group-by over all bands
   at once); every candidate pair is verified with the exact Jaccard similarity of the two
   shingle-hash sets (Polars list set operations); union-find joins the verified pairs.

Signatures come from rensa (0.5.0), which was faster than datasketch (2.0.0) on the same input:
the 100,000-document planted corpus of evaluation/perf/near_dup.py (~68 words a document), one
process, batches of 2,000, num_perm=128, on the 2-core dev machine — texts to signatures:
  datasketch `MinHash.bulk`, shingle strings as bytes (its default sha1)   9.61 s  10,400 docs/s
  datasketch `MinHash.bulk` on our shingle hashes (identity hashfunc)      5.70 s  17,600 docs/s
  rensa `digest_matrix_from_token_sets` on shingle strings                 3.86 s  25,900 docs/s
  rensa `digest_matrix_from_flat_token_hashes` on our shingle hashes       2.11 s  47,400 docs/s
Shingle hashing alone takes 1.34 s of the last (building shingle strings: 2.80 s), so on the
signatures themselves rensa is 5.7× faster than datasketch (0.77 s against 4.36 s).
Word hashes and signatures depend on rensa's hash functions (the same in every process), so
which pairs near the threshold become candidates can change with the rensa version: pin it.
"""

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import rensa

from lakehouse.ids import stable_id
from lakehouse.workers import map_batches

# 5-word shingles and similarity 0.8 are datatrove's MinHash defaults (datatrove
# pipeline/dedup/minhash.py: n_grams=5, buckets tuned so that "probability of inclusion for
# s=0.8" is 0.92); 128 permutations is datasketch's default `num_perm`.
DEFAULT_SHINGLE_SIZE = 5
DEFAULT_THRESHOLD = 0.8
DEFAULT_NUM_PERM = 128
# Weights of false positives and false negatives when choosing bands × rows. datasketch's
# `MinHashLSH` default (0.5, 0.5) gives 9 bands × 13 rows at 0.8 / 128: a pair at Jaccard 0.8
# becomes a candidate with probability 0.40 only (0.69 at 0.85). Here every candidate is
# verified exactly, so a false positive costs one set intersection and recall is what matters:
# (0.05, 0.95) gives 16 × 8, P(candidate) = 0.95 at 0.8, 0.99 at 0.85, 0.06 at 0.5.
DEFAULT_FALSE_POSITIVE_WEIGHT = 0.05
DEFAULT_FALSE_NEGATIVE_WEIGHT = 0.95
# Grid for the integrals of the LSH S-curve when choosing bands × rows: 4,001 points give the
# same (bands, rows) as datasketch's scipy quadrature for every threshold tested.
_INTEGRATION_POINTS = 4001

# Documents per worker batch: at most MAX_BATCH_SIZE, and at least BATCHES_PER_WORKER batches
# per worker so that the last batch does not leave a worker idle for long. Measured on the
# 100,000-document bench corpus with 2 workers: 2.28 s at 1,000, 2.18 s at 2,000, 2.57 s at
# 5,000 (larger batches fall out of the CPU caches).
MAX_BATCH_SIZE = 2_000
BATCHES_PER_WORKER = 4
# A bucket (documents sharing one band hash) of at most this many members yields all its
# pairs as candidates; a larger one (many copies of one text) yields its members paired with
# the bucket's first member only, so that 10,000 copies cost 10,000 pairs, not 50 million.
ALL_PAIRS_MAX_BUCKET = 32

OUTPUT_SCHEMA = pl.Schema(
    {
        "doc_id": pl.String,
        "cluster_id": pl.String,  # stable_id("ndc", canonical_doc_id)
        "canonical_doc_id": pl.String,  # the member that comes first in the input
        "similarity": pl.Float64,  # exact Jaccard of the shingle sets with the canonical member
    }
)
CLUSTER_ID_PREFIX = "ndc"

_UINT64 = np.uint64
# Odd 64-bit multipliers, one per word position in a shingle (golden ratio and MurmurHash3 /
# xxHash constants); positions beyond their count reuse them rotated by the position.
_POSITION_MULTIPLIERS = (
    0x9E3779B97F4A7C15,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0xD6E8FEB86659FD93,
    0xFF51AFD7ED558CCD,
    0xC4CEB9FE1A85EC53,
    0x27D4EB2F165667C5,
    0x94D049BB133111EB,
)
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class NearDupSettings:
    """How documents are shingled, signed and banded; validated on construction.

    `bands` and `rows` are given together or not at all: when absent they are chosen from
    `threshold` and `num_perm` to minimize the weighted false positive and false negative
    probabilities of the LSH S-curve, as datasketch's `MinHashLSH` does.
    """

    shingle_size: int = DEFAULT_SHINGLE_SIZE  # words per shingle
    num_perm: int = DEFAULT_NUM_PERM  # MinHash permutations (signature length)
    threshold: float = DEFAULT_THRESHOLD  # Jaccard similarity at or above which docs match
    bands: int | None = None
    rows: int | None = None
    false_positive_weight: float = DEFAULT_FALSE_POSITIVE_WEIGHT
    false_negative_weight: float = DEFAULT_FALSE_NEGATIVE_WEIGHT
    seed: int = 1  # seeds the MinHash permutations

    def __post_init__(self) -> None:
        for name in ("shingle_size", "num_perm", "seed", "bands", "rows"):
            value = getattr(self, name)
            if value is None and name in ("bands", "rows"):
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.shingle_size < 1:
            raise ValueError(f"shingle_size must be at least 1 word, got {self.shingle_size}")
        if self.num_perm < 1:
            raise ValueError(f"num_perm must be at least 1, got {self.num_perm}")
        if not 0 <= self.seed <= _MASK64:
            raise ValueError(f"seed must be in [0, 2**64), got {self.seed}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        weights = (self.false_positive_weight, self.false_negative_weight)
        if min(weights) < 0 or not math.isclose(sum(weights), 1.0):
            raise ValueError(
                "false_positive_weight and false_negative_weight must be >= 0 and sum to 1, "
                f"got {weights}"
            )
        if (self.bands is None) != (self.rows is None):
            raise ValueError(
                f"give bands and rows together or neither, got bands={self.bands}, rows={self.rows}"
            )
        if self.bands is not None and self.rows is not None:
            if self.bands < 1 or self.rows < 1:
                raise ValueError(
                    f"bands and rows must be at least 1, got {self.bands} × {self.rows}"
                )
            if self.bands * self.rows > self.num_perm:
                raise ValueError(
                    f"bands × rows = {self.bands} × {self.rows} = {self.bands * self.rows} "
                    f"exceeds num_perm = {self.num_perm}"
                )

    @property
    def band_rows(self) -> tuple[int, int]:
        """(bands, rows): the explicit ones, or those that minimize the weighted error."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return optimal_band_rows(
            self.threshold,
            self.num_perm,
            self.false_positive_weight,
            self.false_negative_weight,
        )


@functools.cache
def optimal_band_rows(
    threshold: float, num_perm: int, false_positive_weight: float, false_negative_weight: float
) -> tuple[int, int]:
    """The (bands, rows) with bands × rows ≤ num_perm minimizing the weighted LSH error.

    Same criterion as datasketch's `_optimal_param`: the false positive weight is the area
    under the S-curve P(candidate | s) = 1 - (1 - s^rows)^bands below the threshold, the false
    negative weight the area above it over [threshold, 1]. Integrated on a numpy grid (all
    candidates at once) instead of one scipy quadrature per candidate.
    """
    below = np.linspace(0.0, threshold, _INTEGRATION_POINTS)
    above = np.linspace(threshold, 1.0, _INTEGRATION_POINTS)
    best: tuple[float, int, int] | None = None
    for bands in range(1, num_perm + 1):
        rows = np.arange(1, num_perm // bands + 1, dtype=np.float64)[:, None]
        p_below = 1.0 - (1.0 - below[None, :] ** rows) ** bands
        p_above = 1.0 - (1.0 - above[None, :] ** rows) ** bands
        false_positive = np.trapezoid(p_below, below, axis=1)
        false_negative = np.trapezoid(1.0 - p_above, above, axis=1)
        error = false_positive * false_positive_weight + false_negative * false_negative_weight
        index = int(np.argmin(error))
        if best is None or error[index] < best[0]:
            best = (float(error[index]), bands, index + 1)
    assert best is not None  # num_perm >= 1: the loop ran
    return best[1], best[2]


@dataclass(frozen=True)
class _SignedBatch:
    """What a worker returns for one batch of documents."""

    band_hashes: np.ndarray  # (documents, bands) uint64
    shingle_hashes: np.ndarray  # flat uint64: each document's shingle hashes, in text order
    shingle_counts: np.ndarray  # (documents,) int64: how many of them per document


def _fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place on a uint64 array (wrapping arithmetic)."""
    values ^= values >> _UINT64(33)
    values *= _UINT64(0xFF51AFD7ED558CCD)
    values ^= values >> _UINT64(33)
    values *= _UINT64(0xC4CEB9FE1A85EC53)
    values ^= values >> _UINT64(33)
    return values


def _position_multiplier(position: int) -> np.uint64:
    base = _POSITION_MULTIPLIERS[position % len(_POSITION_MULTIPLIERS)]
    turn = position // len(_POSITION_MULTIPLIERS)
    rotated = ((base << turn) | (base >> (64 - turn))) & _MASK64 if turn else base
    return _UINT64(rotated | 1)


def dedup_key_words(text: str) -> list[str]:
    """The words of `dedup_key(text)`: it joins exactly these with single spaces. Splitting
    here instead of joining and splitting again saves ~0.5 s per 100,000 summaries."""
    return text.casefold().split()


def shingle_hashes(texts: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat hashes, counts): each text's shingle hashes in text order, and how many.

    Words are those of `dedup_key(text)`; a shingle's hash combines its word hashes with one
    odd multiplier per position (order matters), then MurmurHash3's finalizer. A text shorter
    than `shingle_size` words has one shingle, the whole text (an empty text: the empty word).
    A shingle repeated in a text repeats here: MinHash ignores repeats, and the Jaccard
    similarity counts distinct hashes.
    """
    words = [dedup_key_words(text) or [""] for text in texts]
    n_words = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    word_hashes = np.array(
        rensa.RMinHash.hash_token_sets([list(itertools.chain.from_iterable(words))])[0],
        dtype=np.uint64,
    )
    doc_of_word = np.repeat(np.arange(len(words)), n_words)
    combined = word_hashes * _position_multiplier(0)
    for position in range(1, shingle_size):
        # Add word p+position to the shingle starting at word p when both are in one document.
        same_doc = doc_of_word[position:] == doc_of_word[:-position]
        term = word_hashes[position:] * _position_multiplier(position)
        combined[:-position] += np.where(same_doc, term, _UINT64(0))
    n_shingles = np.maximum(n_words - shingle_size + 1, 1)
    first_word = np.cumsum(n_words) - n_words
    shingle_doc = np.repeat(np.arange(len(words)), n_shingles)
    position_in_doc = np.arange(int(n_shingles.sum())) - np.repeat(
        np.cumsum(n_shingles) - n_shingles, n_shingles
    )
    return _fmix64(combined[first_word[shingle_doc] + position_in_doc]), n_shingles


def minhash_signatures(
    hashes: np.ndarray, counts: np.ndarray, num_perm: int, seed: int
) -> np.ndarray:
    """(documents, num_perm) uint32 MinHash signatures of flat per-document shingle hashes."""
    offsets = np.zeros(counts.size + 1, dtype=np.uint64)
    np.cumsum(counts, out=offsets[1:])
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, seed)
    return np.array(matrix.to_rows(), dtype=np.uint32).reshape(counts.size, num_perm)


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents, bands) uint64: one hash of each band's `rows` signature values.

    A 64-bit hash instead of the values themselves: two different bands colliding (about
    n²/2^65 for n documents) only adds a candidate pair, which verification then rejects.
    """
    values = signatures[:, : bands * rows].astype(np.uint64).reshape(-1, bands, rows)
    hashed = np.full(values.shape[:2], _UINT64(rows), dtype=np.uint64)
    for row in range(rows):
        hashed ^= values[:, :, row]
        hashed *= _UINT64(0x100000001B3)  # FNV-1a 64-bit prime
    return _fmix64(hashed)


@dataclass(frozen=True)
class _BatchSigner:
    """A picklable per-batch function for the worker pool (settings travel with it)."""

    shingle_size: int
    num_perm: int
    seed: int
    bands: int
    rows: int

    def __call__(self, texts: Sequence[str]) -> list[_SignedBatch]:
        hashes, counts = shingle_hashes(texts, self.shingle_size)
        signatures = minhash_signatures(hashes, counts, self.num_perm, self.seed)
        return [_SignedBatch(band_hashes(signatures, self.bands, self.rows), hashes, counts)]


def batch_size_for(n_items: int, workers: int) -> int:
    """Documents per worker batch for `n_items` documents over `workers` processes."""
    return max(1, min(MAX_BATCH_SIZE, math.ceil(n_items / (workers * BATCHES_PER_WORKER))))


def _candidate_pairs(bucket_keys: np.ndarray) -> pl.DataFrame:
    """(left, right) document indices, left < right, sharing a bucket in at least one band."""
    n_docs, n_bands = bucket_keys.shape
    members = pl.DataFrame(
        {
            "band": np.tile(np.arange(n_bands, dtype=np.uint32), n_docs),
            "key": bucket_keys.reshape(-1),
            "doc": np.repeat(np.arange(n_docs, dtype=np.uint32), n_bands),
        }
    ).with_columns(size=pl.len().over("band", "key"))
    members = members.filter(pl.col("size") >= 2)
    small = members.filter(pl.col("size") <= ALL_PAIRS_MAX_BUCKET).select("band", "key", "doc")
    all_pairs = (
        small.join(small, on=["band", "key"], suffix="_right")
        .filter(pl.col("doc") < pl.col("doc_right"))
        .select(left="doc", right="doc_right")
    )
    star_pairs = (
        members.filter(pl.col("size") > ALL_PAIRS_MAX_BUCKET)
        .with_columns(first=pl.col("doc").min().over("band", "key"))
        .filter(pl.col("doc") != pl.col("first"))
        .select(left="first", right="doc")
    )
    return pl.concat([all_pairs, star_pairs]).unique().sort("left", "right")


class _ShingleSets:
    """Every document's shingle hashes as one Polars list column, for exact Jaccard."""

    def __init__(self, batches: list[_SignedBatch]) -> None:
        counts = np.concatenate([batch.shingle_counts for batch in batches])
        offsets = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        flat = np.concatenate([batch.shingle_hashes for batch in batches])
        self.sets = pl.from_arrow(pa.LargeListArray.from_arrays(pa.array(offsets), flat))
        self.distinct = self.sets.list.n_unique().to_numpy().astype(np.int64)

    def jaccard(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Exact Jaccard similarity of the shingle sets of documents `left[i]` and `right[i]`."""
        if left.size == 0:
            return np.zeros(0, dtype=np.float64)
        shared = (
            pl.DataFrame({"a": self.sets.gather(left), "b": self.sets.gather(right)})
            .select(pl.col("a").list.set_intersection("b").list.len())
            .to_series()
            .to_numpy()
            .astype(np.int64)
        )
        return shared / (self.distinct[left] + self.distinct[right] - shared)


def _components(n_docs: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Union-find over the pairs: each document's root, the lowest index in its component."""
    parent = list(range(n_docs))

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    return np.array([find(node) for node in range(n_docs)], dtype=np.int64)


def near_duplicate_clusters(
    doc_ids: Sequence[str],
    texts: Sequence[str],
    settings: NearDupSettings,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Rows (OUTPUT_SCHEMA) for every document in a near-duplicate cluster of ≥ 2 members.

    Candidate pairs share an LSH band; a pair joins the clusters when the exact Jaccard
    similarity of the two shingle sets is ≥ `settings.threshold`; clusters are the connected
    components. The canonical member is the first in input order, so order documents by
    preference. `similarity` is the exact Jaccard with the canonical member (1.0 for itself;
    below the threshold for a member joined through another). Rows are ordered by cluster
    (canonical position), then input position. Deterministic: the same input gives the same
    rows whatever `workers`. Signatures run in `workers` processes; `progress` gets
    (documents signed, total).
    """
    if len(doc_ids) != len(texts):
        raise ValueError(f"got {len(doc_ids)} doc_ids but {len(texts)} texts")
    if len(set(doc_ids)) != len(doc_ids):
        raise ValueError("doc_ids must be unique")
    bands, rows = settings.band_rows
    signer = _BatchSigner(settings.shingle_size, settings.num_perm, settings.seed, bands, rows)
    batches: list[_SignedBatch] = map_batches(
        signer, texts, workers, batch_size_for(len(texts), workers), progress
    )
    if not batches:
        return pl.DataFrame(schema=OUTPUT_SCHEMA)
    shingle_sets = _ShingleSets(batches)
    candidates = _candidate_pairs(np.concatenate([batch.band_hashes for batch in batches]))
    left = candidates["left"].to_numpy().astype(np.int64)
    right = candidates["right"].to_numpy().astype(np.int64)
    matched = shingle_sets.jaccard(left, right) >= settings.threshold
    roots = _components(len(texts), left[matched], right[matched])

    component_size = np.bincount(roots, minlength=len(texts))
    members = np.flatnonzero(component_size[roots] >= 2)
    canonical = roots[members]
    similarity = np.ones(members.size, dtype=np.float64)
    others = members != canonical
    similarity[others] = shingle_sets.jaccard(canonical[others], members[others])
    order = np.lexsort((members, canonical))
    members, canonical, similarity = members[order], canonical[order], similarity[order]
    canonical_ids = [doc_ids[index] for index in canonical.tolist()]
    cluster_ids = {doc_id: stable_id(CLUSTER_ID_PREFIX, doc_id) for doc_id in set(canonical_ids)}
    return pl.DataFrame(
        {
            "doc_id": [doc_ids[index] for index in members.tolist()],
            "cluster_id": [cluster_ids[doc_id] for doc_id in canonical_ids],
            "canonical_doc_id": canonical_ids,
            "similarity": similarity,
        },
        schema=OUTPUT_SCHEMA,
    )
