import pytest
from rich.console import Console

from evaluation.perf.near_dup import (
    Quality,
    planted_corpus,
    run_near_dup_benchmark,
    score,
)
from lakehouse.web.near_duplicates import NearDupSettings


def test_planted_corpus_is_deterministic_with_originals_first():
    first = planted_corpus(400, NearDupSettings())
    second = planted_corpus(400, NearDupSettings())
    assert first.texts == second.texts
    assert len(first.texts) == 400
    assert (first.n_originals, first.n_light, first.n_heavy) == (108, 146, 146)
    assert list(first.family[:108]) == list(range(108))
    assert not (first.true_duplicate & first.borderline).any()
    assert first.true_duplicate.sum() + first.borderline.sum() == first.n_light


def test_score_leaves_borderline_copies_out_and_checks_the_family():
    corpus = planted_corpus(400, NearDupSettings())
    light = [i for i in range(400) if corpus.true_duplicate[i]]
    borderline = next(i for i in range(400) if corpus.borderline[i])
    heavy = next(i for i in range(corpus.n_originals, 400) if corpus.family[i] == i)
    flags = {i: int(corpus.family[i]) for i in light[1:]}
    flags[borderline] = int(corpus.family[borderline])  # not scored either way
    flags[heavy] = 0  # a heavy copy flagged: wrong
    quality = score(corpus, flags)
    assert quality == Quality(
        flagged=len(light), correct=len(light) - 1, true_duplicates=len(light)
    )


@pytest.mark.slow
def test_near_dup_benchmark_on_a_small_corpus():
    report = run_near_dup_benchmark(repeat=1, console=Console(quiet=True), n_docs=5_000)
    assert all(m.items == 5_000 and m.seconds > 0 for m in report.measurements)
    assert report.ratio("near_duplicate_clusters, 1 worker(s)") > 1.0
    assert report.ratio("near_duplicate_clusters, 2 worker(s)") is not None
    sailyard = report.quality["near_duplicate_clusters, 2 worker(s)"]
    assert report.quality["near_duplicate_clusters, 1 worker(s)"] == sailyard
    assert sailyard.recall >= 0.9
    assert sailyard.precision >= 0.95
    assert sailyard.true_duplicates > 1_000
    raw = report.quality["raw datasketch MinHash + MinHashLSH, 1 process"]
    assert raw.true_duplicates == sailyard.true_duplicates
    assert len(report.notes) == 4
