"""Atomic Parquet writes: a table file is either the old version or the new one, never half.

A write goes to a temporary file in the same directory, is flushed to disk, and is renamed
over the target (rename is atomic on POSIX within one filesystem). A killed writer leaves at
most a temporary file, which the next write to that directory removes.
"""

import os
import time
import uuid
from pathlib import Path

import polars as pl

TEMP_MARKER = ".tmp-"
# Fault injection for the kill test: seconds to sleep between writing the temporary file and
# renaming it into place, so a test can kill the process in exactly that window.
PAUSE_BEFORE_RENAME_ENV_VAR = "SAILYARD_PAUSE_BEFORE_RENAME"


def _pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete temporary files left in `directory` by writers that are no longer running."""
    removed = []
    if not directory.is_dir():
        return removed
    for path in directory.glob(f"*{TEMP_MARKER}*"):
        pid_text = path.name.split(TEMP_MARKER, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and _pid_is_alive(int(pid_text)) and int(pid_text) != os.getpid():
            continue  # another live writer is using it
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> Path:
    """Write `frame` to `path` as Parquet (zstd) so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    temp_path = path.with_name(f".{path.name}{TEMP_MARKER}{os.getpid()}-{uuid.uuid4().hex}")
    try:
        frame.write_parquet(temp_path, compression="zstd", statistics=True)
        with open(temp_path, "rb") as handle:
            os.fsync(handle.fileno())
        pause = float(os.environ.get(PAUSE_BEFORE_RENAME_ENV_VAR, "0") or 0)
        if pause > 0:
            time.sleep(pause)
        os.replace(temp_path, path)
    finally:
        temp_path.unlink(missing_ok=True)
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (the directory entry) across a power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
