"""Many episodes at once, bounded, resumable: the generation loop behind every trajectory.

A `Job` is one unit of work with a stable key (one episode, or a planner trajectory and its
HAS branches); it returns finished rows per table. `run_jobs` runs the jobs that the journal
has not seen yet, at most `concurrency` at a time on one asyncio loop (model calls go to the
backend concurrently, tools run in worker threads), and flushes finished jobs to the journal
every `flush_every` jobs and at the end, including when a job fails or the run is cancelled.
So a killed run keeps what it flushed, and its rerun neither redoes those jobs nor writes
their rows twice.
"""

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from lakehouse.journal import RunJournal

Rows = Mapping[str, list[dict]]  # table name → rows
Progress = Callable[[int, int], None]  # (jobs done, jobs to run)


class RetryableJobError(RuntimeError):
    """A job failed for a reason outside it (the model server is down, a request failed
    beyond its retries): it is not journaled, so a rerun runs it again."""


class JobsFailed(RuntimeError):
    """Some jobs raised `RetryableJobError`; everything else was journaled."""


class Job(Protocol):
    """One resumable unit of generation work."""

    key: str

    async def run(self) -> Rows: ...


@dataclass
class RunSummary:
    """What `run_jobs` did: jobs skipped (already journaled), run, and chunks written."""

    skipped: int
    ran: int
    chunks: int
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, error) not journaled


async def run_jobs(
    jobs: Sequence[Job],
    journal: RunJournal,
    schemas: Mapping[str, pl.Schema],
    *,
    concurrency: int,
    flush_every: int = 16,
    progress: Progress | None = None,
) -> RunSummary:
    """Run the jobs the journal lacks, `concurrency` at a time, flushing as they finish."""
    if concurrency < 1 or flush_every < 1:
        raise ValueError("concurrency and flush_every must be at least 1")
    done = journal.done_keys()
    pending = [job for job in jobs if job.key not in done]
    if len({job.key for job in jobs}) != len(jobs):
        raise ValueError("job keys must be unique")
    buffer: list[tuple[str, Rows]] = []
    summary = RunSummary(skipped=len(jobs) - len(pending), ran=0, chunks=0)
    semaphore = asyncio.Semaphore(concurrency)

    def flush() -> None:
        if not buffer:
            return
        frames = {
            table: pl.DataFrame(
                [row for _, rows in buffer for row in rows.get(table, [])], schema=schema
            )
            for table, schema in schemas.items()
        }
        journal.write_chunk(frames, [key for key, _ in buffer])
        summary.chunks += 1
        buffer.clear()

    async def one(job: Job) -> None:
        async with semaphore:
            try:
                rows = await job.run()
            except RetryableJobError as error:
                summary.failed.append((job.key, str(error)))
                return
        buffer.append((job.key, rows))
        summary.ran += 1
        if progress is not None:
            progress(summary.ran, len(pending))
        if len(buffer) >= flush_every:
            flush()

    try:
        async with asyncio.TaskGroup() as group:
            for job in pending:
                group.create_task(one(job))
    finally:
        flush()  # whatever finished before a failure or a cancellation is kept
    if summary.failed:
        key, error = summary.failed[0]
        raise JobsFailed(
            f"{len(summary.failed)} of {len(pending)} jobs failed and were not journaled "
            f"(first: {key}: {error}); the other {summary.ran} are kept: rerun to retry them"
        )
    return summary
