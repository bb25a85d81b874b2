import json

import pytest
from rich.console import Console

from evaluation.perf import run_benchmark
from evaluation.perf.search import run_service_benchmark
from lakehouse.errors import SailyardError


def test_search_benchmark_quick_size_has_every_measurement_and_baseline(tmp_path):
    benchmark = tmp_path / "questions.jsonl"
    benchmark.write_text(
        "\n".join(
            json.dumps(line)
            for line in (
                {
                    "question": "German philosopher",
                    "gold_titles": ["Georg Wilhelm Friedrich Hegel"],
                },
                {"question": "capital of nowhere", "gold_urls": ["https://example.org/none"]},
            )
        )
        + "\n"
    )
    report = run_benchmark(
        "search",
        repeat=1,
        console=Console(quiet=True),
        root=str(tmp_path / "home"),
        size="quick",
        benchmark_file=None,
    )
    names = [m.name for m in report.measurements]
    labels = [item.name.split(": ")[0] for item in report.latencies if item.name.endswith(": bm25")]
    assert len(labels) == 2  # the corpus and its ×2 copy
    for label in labels:
        for mode in ("bm25", "dense", "hybrid"):
            latency = report.latency(f"{label}: {mode}")
            assert latency.calls == 16
            assert 0 < latency.p50_ms <= latency.p95_ms
            assert report.ratio(f"{label}: {mode}, 8 queries/call") > 0  # vs one per call
        assert report.ratio(f"{label}: bm25, 1 query/call") > 0  # vs bm25s
        assert report.ratio(f"{label}: dense, 1 query/call") > 0  # vs numpy exact
        assert f"numpy exact, 8 queries/call ({label})" in names
        assert report.figures[f"{label}:dense_recall"] == pytest.approx(1.0)  # exact scan
    assert report.latency(f"{labels[1]}: search_tool over HTTP").calls == 16
    assert "service_added_ms" in report.figures
    assert "service_added_bm25_ms" in report.figures  # the HTTP path alone
    assert report.figures["service_batches"] >= 1
    assert any("same text as in-process for 16/16" in note for note in report.notes)
    embedding = next(name for name in names if name.startswith("embed_passages"))
    assert report.ratio(embedding) > 0.5  # vs SentenceTransformer.encode
    assert set(report.quality) == {
        "bm25",
        "dense",
        "hybrid",
        "bm25s (baseline)",
        "numpy exact dense (baseline)",
    }
    assert all(q.questions == 24 for q in report.quality.values())
    assert report.quality["hybrid"].recall(10) >= 0.5
    assert len(report.targets) == 6
    assert len(report.renderables()) == 4

    # a benchmark file instead of the generated questions; the cache makes it quicker
    again = run_benchmark(
        "search",
        repeat=1,
        console=Console(quiet=True),
        root=str(tmp_path / "home"),
        size="quick",
        benchmark_file=str(benchmark),
    )
    assert any("embeddings from the cache" in note for note in again.notes)
    assert all(q.questions == 1 for q in again.quality.values())  # one is not in the corpus
    assert any("1 question(s) have no gold page" in note for note in again.notes)

    # the tool-service part alone, on the same cached index and queries
    service = run_service_benchmark(Console(quiet=True), root=str(tmp_path / "home"), size="quick")
    assert [item.name for item in service.latencies] == [
        f"{labels[1]}: search_tool in-process",
        f"{labels[1]}: search_tool over HTTP",
    ]
    assert {"service_added_ms", "service_added_bm25_ms", "service_batches"} <= set(service.figures)
    assert any("same text as in-process for 16/16" in note for note in service.notes)


def test_search_options_are_refused_by_other_stages_and_bad_sizes(tmp_path):
    with pytest.raises(SailyardError, match="--size does not apply to stage 'web'"):
        run_benchmark("web", repeat=1, console=Console(quiet=True), size="quick")
    with pytest.raises(SailyardError, match="--size must be one of full, quick"):
        run_benchmark(
            "search", repeat=1, console=Console(quiet=True), root=str(tmp_path), size="huge"
        )
