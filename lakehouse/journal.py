"""A resumable run's finished work, kept in chunks until the run's tables are written.

Long generation runs (agent rollouts, benchmark answers) finish work units one by one. Each
flush writes a chunk: a directory holding one Parquet file per table and the keys of the
work units it completes. The chunk is written under a temporary name and renamed into place,
so it is either wholly there or absent: a killed run loses at most the units since the last
flush. A restarted run with the same fingerprint opens the same journal, skips every key
already done, and at the end reads all chunks, deduplicated by row id, into its tables;
then the journal is cleared.
"""

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from lakehouse.parquet_io import TEMP_MARKER, write_parquet_atomic

KEYS_FILE = "keys.json"
CHUNK_PREFIX = "chunk-"


def journal_dir(root: Path, name: str, fingerprint: str) -> Path:
    """Where the journal of run `name` with this settings fingerprint lives."""
    return root / "journals" / name / fingerprint


class RunJournal:
    """Chunks of finished work units under one directory (module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(f"{TEMP_MARKER}*"):  # a chunk a killed run half wrote
            shutil.rmtree(stale, ignore_errors=True)

    def chunks(self) -> list[Path]:
        """The complete chunks, in the order they were written."""
        return sorted(path for path in self.directory.glob(f"{CHUNK_PREFIX}*") if path.is_dir())

    def done_keys(self) -> set[str]:
        """The keys of every work unit a chunk completes."""
        done: set[str] = set()
        for chunk in self.chunks():
            done.update(json.loads((chunk / KEYS_FILE).read_text()))
        return done

    def write_chunk(self, frames: Mapping[str, pl.DataFrame], keys: Iterable[str]) -> Path:
        """Write one chunk (the frames and the keys they complete) atomically."""
        keys = list(keys)
        sequence = len(self.chunks())
        name = f"{CHUNK_PREFIX}{sequence:06d}-{uuid.uuid4().hex[:8]}"
        temp = self.directory / f"{TEMP_MARKER}{name}"
        temp.mkdir()
        for table, frame in frames.items():
            write_parquet_atomic(frame, temp / f"{table}.parquet")
        (temp / KEYS_FILE).write_text(json.dumps(keys))
        target = self.directory / name
        os.replace(temp, target)
        return target

    def read(self, table: str, schema: pl.Schema, id_column: str) -> pl.DataFrame:
        """Every chunk's rows of `table`, first copy of each id kept."""
        files = [chunk / f"{table}.parquet" for chunk in self.chunks()]
        files = [file for file in files if file.exists()]
        if not files:
            return schema.to_frame()
        frame = pl.concat([pl.read_parquet(file) for file in files], how="diagonal_relaxed")
        return frame.unique(id_column, keep="first", maintain_order=True)

    def clear(self) -> None:
        """Remove the journal (its run's tables are written)."""
        shutil.rmtree(self.directory, ignore_errors=True)
