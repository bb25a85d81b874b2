import asyncio
from dataclasses import dataclass

import polars as pl
import pytest

from agents.rollouts import JobsFailed, RetryableJobError, run_jobs
from lakehouse.journal import RunJournal

SCHEMAS = {"rows": pl.Schema({"row_id": pl.String, "value": pl.Int64})}


@dataclass
class CountingJob:
    key: str
    runs: list[str]
    fail: bool = False

    async def run(self):
        await asyncio.sleep(0.001)
        if self.fail:
            raise RuntimeError(f"job {self.key} failed")
        self.runs.append(self.key)
        return {"rows": [{"row_id": f"r-{self.key}", "value": int(self.key)}]}


def test_failed_run_keeps_finished_jobs_and_rerun_does_only_the_rest(tmp_path):
    journal = RunJournal(tmp_path / "journal")
    runs: list[str] = []
    jobs = [CountingJob(str(i), runs) for i in range(6)]
    jobs[4].fail = True
    with pytest.raises(ExceptionGroup):
        asyncio.run(run_jobs(jobs, journal, SCHEMAS, concurrency=1, flush_every=1))
    first = set(runs)
    assert first == {"0", "1", "2", "3"}
    assert journal.done_keys() == first

    jobs[4].fail = False
    runs.clear()
    summary = asyncio.run(run_jobs(jobs, RunJournal(tmp_path / "journal"), SCHEMAS, concurrency=3))
    assert set(runs) == {"4", "5"}  # nothing finished is redone
    assert (summary.skipped, summary.ran) == (4, 2)
    rows = journal.read("rows", SCHEMAS["rows"], "row_id")
    assert sorted(rows.get_column("value").to_list()) == [0, 1, 2, 3, 4, 5]  # no duplicates


def test_half_written_chunk_is_ignored_and_removed(tmp_path):
    journal = RunJournal(tmp_path / "j")
    journal.write_chunk({"rows": pl.DataFrame({"row_id": ["a"], "value": [1]})}, ["a"])
    stale = tmp_path / "j" / ".tmp-chunk-000001-dead"
    stale.mkdir()
    (stale / "keys.json").write_text('["b"]')
    reopened = RunJournal(tmp_path / "j")
    assert reopened.done_keys() == {"a"}
    assert not stale.exists()


def test_duplicate_job_keys_are_refused(tmp_path):
    jobs = [CountingJob("1", []), CountingJob("1", [])]
    with pytest.raises(ValueError, match="unique"):
        asyncio.run(run_jobs(jobs, RunJournal(tmp_path), SCHEMAS, concurrency=2))


@dataclass
class FlakyJob:
    key: str
    fail: bool

    async def run(self):
        if self.fail:
            raise RetryableJobError("the model server is down")
        return {"rows": [{"row_id": f"r-{self.key}", "value": int(self.key)}]}


def test_jobs_that_fail_outside_are_not_journaled_and_the_rest_are(tmp_path):
    journal = RunJournal(tmp_path / "j")
    jobs = [FlakyJob(str(i), fail=i % 2 == 1) for i in range(4)]
    with pytest.raises(JobsFailed, match="2 of 4 jobs failed"):
        asyncio.run(run_jobs(jobs, journal, SCHEMAS, concurrency=2))
    assert journal.done_keys() == {"0", "2"}
    for job in jobs:
        job.fail = False
    summary = asyncio.run(run_jobs(jobs, journal, SCHEMAS, concurrency=2))
    assert (summary.skipped, summary.ran) == (2, 2)
