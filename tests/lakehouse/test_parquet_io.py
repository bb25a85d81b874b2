import os
from pathlib import Path

import polars as pl
import pytest

from lakehouse import parquet_io
from lakehouse.parquet_io import remove_stale_temp_files, write_parquet_atomic


def test_write_creates_the_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "t" / "data.parquet"
    write_parquet_atomic(pl.DataFrame({"a": [1, 2]}), target)
    assert pl.read_parquet(target).get_column("a").to_list() == [1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["data.parquet"]


def test_a_failed_write_keeps_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "data.parquet"
    write_parquet_atomic(pl.DataFrame({"a": [1]}), target)

    def crash(*_args, **_kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(parquet_io.os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        write_parquet_atomic(pl.DataFrame({"a": [2, 3]}), target)
    assert pl.read_parquet(target).get_column("a").to_list() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["data.parquet"]


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path: Path):
    dead_pid = 2**22 + 17  # above the default pid_max: no such process
    stale = tmp_path / f".data.parquet.tmp-{dead_pid}-abc"
    stale.write_bytes(b"half a file")
    live = tmp_path / f".data.parquet.tmp-{os.getppid()}-def"  # the parent is alive
    live.write_bytes(b"being written")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert live.exists()
