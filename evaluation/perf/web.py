"""Benchmark of the web group on the whole recorded crawl (all three languages).

1. Replay ingest: records/s from the package's JSON to an atomic Parquet partition, against
   the raw libraries (json.loads + one Polars frame + write_parquet) in the same run.
2. Documents: snapshots/s through the `documents` asset (a real Dagster run on a real
   instance, reading and writing the lakehouse), against the same per-snapshot parsing
   (`process_snapshot` + the dedup hash) in a plain Python loop over the same rows.
"""

import json
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl
from rich.console import Console

from evaluation.perf.report import BenchReport, Measurement, best_of
from lakehouse import Lakehouse
from lakehouse.lineage import RunStamp, stamp
from lakehouse.tables import WEB_SNAPSHOTS
from lakehouse.web import documents as documents_lib
from lakehouse.web import replay
from lakehouse.workers import default_workers

LANGUAGES = ("en", "fr", "es")


def _replay_all(lakehouse: Lakehouse) -> int:
    total = 0
    for language in LANGUAGES:
        crawl = f"bench-{language}"
        frame = replay.replay_snapshots(crawl, replay.ReplaySettings(language=language))
        lakehouse.write(WEB_SNAPSHOTS.name, stamp(frame, RunStamp.now("bench", "bench")), crawl)
        total += frame.height
    return total


def _raw_json_to_parquet(directory: Path) -> int:
    total = 0
    for language in LANGUAGES:
        records = json.loads(replay.corpus_file(language).read_bytes())
        frame = pl.DataFrame(
            {"key": list(records), "body": [json.dumps(r).encode() for r in records.values()]}
        )
        frame.write_parquet(directory / f"raw-{language}.parquet", compression="zstd")
        total += frame.height
    return total


def _plain_loop(snapshots: pl.DataFrame, settings: documents_lib.QualitySettings) -> int:
    """The per-snapshot work of the asset in a plain loop: extract, filter, hash, dedup."""
    seen: set[str] = set()
    kept = 0
    columns = ["status", "error", "content_type", "headers", "body"]
    for status, error, content_type, headers, body in snapshots.select(columns).iter_rows():
        outcome = documents_lib.process_snapshot(
            status, error, content_type, headers, body, settings
        )
        if isinstance(outcome, documents_lib.Rejection):
            continue
        if outcome.text_sha256 not in seen:
            seen.add(outcome.text_sha256)
            kept += 1
    return snapshots.height


def _materialize_documents(
    root: Path, instance: dg.DagsterInstance, workers: int
) -> tuple[int, float]:
    """Run the documents asset through Dagster; returns (snapshots, step seconds)."""
    from assets.web import extract_documents
    from dagster_project.resources import LakehouseResource

    result = dg.materialize(
        [extract_documents],
        instance=instance,
        resources={"lakehouse": LakehouseResource(root=str(root))},
        run_config={
            # Near-duplicate removal is off here: the plain loop does not do it, and its cost
            # is measured on its own by `sailyard bench near_dup`.
            "ops": {
                "extract_documents": {
                    "config": {"workers": workers, "remove_near_duplicates": False}
                }
            },
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
        raise_on_error=True,
    )
    events = {
        e.dagster_event.event_type_value: e.timestamp for e in _step_events(instance, result.run_id)
    }
    step_seconds = events["STEP_SUCCESS"] - events["STEP_START"]
    return Lakehouse(root).read(WEB_SNAPSHOTS.name).height, step_seconds


def _step_events(instance: dg.DagsterInstance, run_id: str) -> list:
    records = instance.all_logs(run_id)
    return [r for r in records if r.dagster_event is not None and r.step_key is not None]


def run_web_benchmark(repeat: int, console: Console) -> BenchReport:
    """Measure replay ingest and documents throughput against their baselines."""
    report = BenchReport(stage="web")
    settings = documents_lib.QualitySettings()
    with tempfile.TemporaryDirectory(prefix="sailyard-bench-") as temp:
        root = Path(temp) / "lakehouse"
        lakehouse = Lakehouse(root)
        console.print(f"replaying the recorded crawl ({', '.join(LANGUAGES)}) ×{repeat}")
        items, seconds = best_of(repeat, lambda: _replay_all(lakehouse))
        report.add(Measurement("replay ingest → web_snapshots", items, seconds, "records"))
        items, seconds = best_of(repeat, lambda: _raw_json_to_parquet(Path(temp)))
        report.add(
            Measurement(
                "json.loads + polars write_parquet",
                items,
                seconds,
                "records",
                baseline_of="replay ingest → web_snapshots",
            )
        )

        snapshots = lakehouse.read(WEB_SNAPSHOTS.name)
        workers = default_workers()
        console.print(f"documents from {snapshots.height:,} snapshots ×{repeat}")
        (Path(temp) / "dagster").mkdir()
        with dg.DagsterInstance.local_temp(
            str(Path(temp) / "dagster"), overrides={"telemetry": {"enabled": False}}
        ) as instance:
            for n_workers in sorted({1, workers}):
                run_seconds = step_seconds = float("inf")
                for _ in range(repeat):
                    started = time.perf_counter()
                    items, step = _materialize_documents(root, instance, n_workers)
                    run_seconds = min(run_seconds, time.perf_counter() - started)
                    step_seconds = min(step_seconds, step)
                name = f"documents asset, {n_workers} worker(s)"
                report.add(Measurement(f"{name}: Dagster step", items, step_seconds, "snapshots"))
                report.add(Measurement(f"{name}: whole run", items, run_seconds, "snapshots"))
        items, seconds = best_of(repeat, lambda: _plain_loop(snapshots, settings))
        for n_workers in sorted({1, workers}):
            report.add(
                Measurement(
                    "plain loop: process_snapshot",
                    items,
                    seconds,
                    "snapshots",
                    baseline_of=f"documents asset, {n_workers} worker(s): Dagster step",
                )
            )
        parallel = f"documents asset, {workers} worker(s): Dagster step"
        report.notes.append(
            f"target: documents asset / plain loop ≥ 0.9 — measured {report.ratio(parallel):.2f} "
            f"with {workers} worker(s) (the default: one per CPU), "
            f"{report.ratio('documents asset, 1 worker(s): Dagster step'):.2f} with 1. The step "
            "time includes reading snapshots, dedup, two atomic Parquet writes, checks and plots; "
            "'whole run' adds Dagster's run start-up and event storage."
        )
    return report
