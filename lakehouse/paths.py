"""Where the lakehouse lives on disk: one root, everything else below it.

Layout under the root ($SAILYARD_HOME, default ./.sailyard):
    tables/<table>/data.parquet                    an unpartitioned table
    tables/<table>/<column>=<key>/data.parquet     one partition of a partitioned table
    catalog.duckdb                                 DuckDB views over every table (read-only use)
    crawls/<crawl id>/                             a live crawl's resumable state and WARC files
    lancedb/                                       the LanceDB search index tables
    dagster/                                       DAGSTER_HOME: runs, events, schedules
"""

import os
from pathlib import Path
from urllib.parse import quote

DEFAULT_ROOT = ".sailyard"
ROOT_ENV_VAR = "SAILYARD_HOME"
DATA_FILE_NAME = "data.parquet"


def lakehouse_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The absolute lakehouse root: `root` if given, else $SAILYARD_HOME, else ./.sailyard."""
    chosen = root if root is not None else os.environ.get(ROOT_ENV_VAR) or DEFAULT_ROOT
    return Path(chosen).expanduser().resolve()


def tables_dir(root: Path) -> Path:
    return root / "tables"


def table_dir(root: Path, table: str) -> Path:
    return tables_dir(root) / table


def partition_dir(root: Path, table: str, column: str, key: str) -> Path:
    """The directory of one partition; the key is percent-encoded so any string is safe."""
    return table_dir(root, table) / f"{column}={quote(key, safe='')}"


def catalog_path(root: Path) -> Path:
    return root / "catalog.duckdb"


def dagster_home(root: Path) -> Path:
    return root / "dagster"


def crawl_dir(root: Path, crawl_id: str) -> Path:
    """Where a live crawl keeps its frontier, fetched pages and WARC segments."""
    return root / "crawls" / quote(crawl_id, safe="")


def lancedb_dir(root: Path) -> Path:
    """Where the LanceDB search tables live (one writer at a time per table)."""
    return root / "lancedb"
