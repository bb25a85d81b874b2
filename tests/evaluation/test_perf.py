import pytest
from rich.console import Console

from evaluation.perf import run_benchmark
from evaluation.perf.report import BenchReport, Measurement
from lakehouse.errors import SailyardError


def test_ratio_compares_a_measurement_with_its_baseline():
    report = BenchReport("x")
    report.add(Measurement("asset", items=100, seconds=2.0, unit="docs"))
    report.add(Measurement("loop", items=100, seconds=1.0, unit="docs", baseline_of="asset"))
    assert report.ratio("asset") == pytest.approx(0.5)
    assert report.ratio("loop") is None
    assert report.table().row_count == 2


def test_unknown_stage_and_bad_repeat_are_errors():
    with pytest.raises(
        SailyardError, match="no benchmark for stage 'nope'; stages: web, web_replay"
    ):
        run_benchmark("nope", repeat=1, console=Console(quiet=True))
    with pytest.raises(SailyardError, match="--repeat"):
        run_benchmark("web", repeat=0, console=Console(quiet=True))


@pytest.mark.slow
def test_web_benchmark_measures_the_whole_corpus():
    report = run_benchmark("web_replay", repeat=1, console=Console(quiet=True))
    names = [m.name for m in report.measurements]
    assert "replay ingest → web_snapshots" in names
    # en + fr + es records; records repeated under two keys are one snapshot
    assert len({m.items for m in report.measurements}) <= 2
    assert all(m.items > 26_000 and m.seconds > 0 for m in report.measurements)
    assert report.ratio("documents asset, 1 worker(s): Dagster step") > 0.3
    assert report.notes
