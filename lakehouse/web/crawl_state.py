"""The resumable state of one crawl: its frontier and every finished fetch, in SQLite.

`<state dir>/crawl.sqlite` (WAL mode) holds
- `meta`: crawl id, schema version and the settings the crawl was created with (JSON);
- `frontier`: one row per URL the crawl knows: a page to fetch (`kind='page'`: status
  queued → in-flight → done, with its depth and the page it was discovered from) or a
  redirect target reached while fetching another page (`kind='redirect'`, always done);
  the URL is the primary key, so a URL is known, and fetched, at most once per crawl;
- `fetches`: one row per finished page (every `Fetch` field, the body as a BLOB, links and
  redirects as JSON) and the run that finished it.

Finishing a page is one transaction: store the fetch, mark the page done, record its
redirect targets and enqueue its new links. A process killed at any moment therefore loses
only the pages that were in flight; they are queued again when the state is next opened.
A lock file keeps two processes from crawling into the same state at once.
"""

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lakehouse.errors import SailyardError
from lakehouse.web.snapshots import Fetch, Link
from lakehouse.web.urls import url_host

STATE_FILE = "crawl.sqlite"
LOCK_FILE = "crawl.lock"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS frontier (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- discovery order
    url TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,                     -- the politeness key
    depth INTEGER NOT NULL,
    discovered_from TEXT,                   -- NULL for seeds
    kind TEXT NOT NULL CHECK (kind IN ('page', 'redirect')),
    status TEXT NOT NULL CHECK (status IN ('queued', 'in-flight', 'done'))
);
CREATE INDEX IF NOT EXISTS frontier_queue ON frontier (status, depth, seq);
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    requeued INTEGER NOT NULL               -- in-flight pages of a killed run queued again
);
CREATE TABLE IF NOT EXISTS fetches (
    url TEXT PRIMARY KEY REFERENCES frontier (url),
    status INTEGER,
    body BLOB,
    content_type TEXT,
    headers TEXT NOT NULL,                  -- JSON object
    final_url TEXT,
    redirects TEXT NOT NULL,                -- JSON list
    depth INTEGER NOT NULL,
    links TEXT NOT NULL,                    -- JSON list of [url, text]
    body_ref TEXT,
    fetched_at TEXT,                        -- ISO 8601 with offset
    attempts INTEGER NOT NULL,
    source TEXT NOT NULL,
    error TEXT,
    run INTEGER NOT NULL REFERENCES runs (run)
);
"""


class CrawlStateError(SailyardError):
    """A state dir that cannot be used for this crawl (other crawl, settings, or in use)."""


@dataclass(frozen=True)
class QueuedPage:
    url: str
    depth: int


def _settings_difference(stored: dict, given: dict) -> str:
    keys = sorted(set(stored) | set(given))
    changed = [key for key in keys if stored.get(key) != given.get(key)]
    return "; ".join(f"{key}: {stored.get(key)!r} -> {given.get(key)!r}" for key in changed)


class CrawlState:
    """An open crawl state; use as a context manager (it holds the state dir's lock)."""

    def __init__(self, state_dir: Path, crawl_id: str, settings: dict, seeds: list[str]):
        """Open (or create) the state in `state_dir` for `crawl_id` crawled with `settings`.

        A new state is seeded with `seeds` at depth 0. An existing one must have been created
        for the same crawl id and settings; its in-flight pages are queued again.
        """
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self._lock = (state_dir / LOCK_FILE).open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise CrawlStateError(f"{state_dir}: another process is crawling into it") from None
        try:
            self._db = sqlite3.connect(state_dir / STATE_FILE, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a killed process loses nothing committed; a power loss may
            # lose the last commits, which only re-queues those pages.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            with self._transaction():
                self._check_or_create(crawl_id, settings, seeds)
                self.requeued = self._db.execute(
                    "UPDATE frontier SET status = 'queued' WHERE status = 'in-flight'"
                ).rowcount
                self.run = self._db.execute(
                    "INSERT INTO runs (pid, started_at, requeued) VALUES (?, ?, ?)",
                    (os.getpid(), datetime.now().astimezone().isoformat(), self.requeued),
                ).lastrowid
        except BaseException:
            self.close()
            raise

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _check_or_create(self, crawl_id: str, settings: dict, seeds: list[str]) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", SCHEMA_VERSION),
                    ("crawl_id", crawl_id),
                    ("settings", json.dumps(settings, sort_keys=True)),
                ],
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO frontier (url, host, depth, discovered_from, kind, status)"
                " VALUES (?, ?, 0, NULL, 'page', 'queued')",
                [(seed, url_host(seed)) for seed in seeds],
            )
            return
        where = self.state_dir
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise CrawlStateError(
                f"{where}: state schema {meta.get('schema_version')!r}, this code reads "
                f"{SCHEMA_VERSION!r}; use a new state dir"
            )
        if meta["crawl_id"] != crawl_id:
            raise CrawlStateError(
                f"{where} holds crawl {meta['crawl_id']!r}, not {crawl_id!r}; "
                "use one state dir per crawl"
            )
        stored = json.loads(meta["settings"])
        if stored != json.loads(json.dumps(settings)):
            raise CrawlStateError(
                f"{where}: crawl {crawl_id!r} was started with other settings "
                f"({_settings_difference(stored, settings)}); resume it with the same "
                "settings or start a new crawl in a new state dir"
            )

    def claim_next(self, busy_hosts: set[str]) -> QueuedPage | None:
        """The next queued page (shallowest first, then in discovery order) whose host is not
        busy, marked in flight; None when there is none."""
        placeholders = ",".join("?" * len(busy_hosts))
        row = self._db.execute(
            "SELECT url, depth FROM frontier WHERE status = 'queued' AND kind = 'page'"
            f" AND host NOT IN ({placeholders}) ORDER BY depth, seq LIMIT 1",
            sorted(busy_hosts),
        ).fetchone()
        if row is None:
            return None
        self._db.execute("UPDATE frontier SET status = 'in-flight' WHERE url = ?", (row[0],))
        return QueuedPage(row[0], row[1])

    def is_known(self, url: str) -> bool:
        """Whether the crawl has `url` in its frontier (queued, in flight, done or redirect)."""
        found = self._db.execute("SELECT 1 FROM frontier WHERE url = ?", (url,)).fetchone()
        return found is not None

    def finish(self, fetch: Fetch, redirect_targets: list[str], new_links: list[str]) -> int:
        """Store a finished page, its redirect targets and its new links, in one transaction.

        Returns how many of `new_links` were new to the crawl (queued at depth + 1).
        """
        with self._transaction():
            self._db.execute(
                "INSERT INTO fetches (url, status, body, content_type, headers, final_url,"
                " redirects, depth, links, body_ref, fetched_at, attempts, source, error, run)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fetch.url,
                    fetch.status,
                    fetch.body,
                    fetch.content_type,
                    json.dumps(fetch.headers, sort_keys=True),
                    fetch.final_url,
                    json.dumps(fetch.redirects),
                    fetch.depth,
                    json.dumps([[link.url, link.text] for link in fetch.links]),
                    fetch.body_ref,
                    fetch.fetched_at.isoformat() if fetch.fetched_at else None,
                    fetch.attempts,
                    fetch.source,
                    fetch.error,
                    self.run,
                ),
            )
            self._db.execute("UPDATE frontier SET status = 'done' WHERE url = ?", (fetch.url,))
            self._db.executemany(
                "INSERT OR IGNORE INTO frontier (url, host, depth, discovered_from, kind, status)"
                " VALUES (?, ?, ?, ?, 'redirect', 'done')",
                [(url, url_host(url), fetch.depth, fetch.url) for url in redirect_targets],
            )
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO frontier (url, host, depth, discovered_from, kind, status)"
                " VALUES (?, ?, ?, ?, 'page', 'queued')",
                [(url, url_host(url), fetch.depth + 1, fetch.url) for url in new_links],
            )
            return self._db.total_changes - before

    def counts(self) -> tuple[int, int]:
        """(pages finished, pages known) over the whole crawl."""
        done, known = self._db.execute(
            "SELECT coalesce(sum(status = 'done'), 0), count(*) FROM frontier WHERE kind = 'page'"
        ).fetchone()
        return done, known

    def fetches(self) -> list[Fetch]:
        """Every finished fetch of the crawl, sorted by URL."""
        rows = self._db.execute(
            "SELECT url, status, body, content_type, headers, final_url, redirects, depth,"
            " links, body_ref, fetched_at, attempts, source, error FROM fetches ORDER BY url"
        ).fetchall()
        return [
            Fetch(
                url=url,
                status=status,
                body=body,
                content_type=content_type,
                headers=json.loads(headers),
                final_url=final_url,
                redirects=json.loads(redirects),
                depth=depth,
                links=[Link(url=link_url, text=text) for link_url, text in json.loads(links)],
                body_ref=body_ref,
                fetched_at=datetime.fromisoformat(fetched_at) if fetched_at else None,
                attempts=attempts,
                source=source,
                error=error,
            )
            for (
                url,
                status,
                body,
                content_type,
                headers,
                final_url,
                redirects,
                depth,
                links,
                body_ref,
                fetched_at,
                attempts,
                source,
                error,
            ) in rows
        ]

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self) -> "CrawlState":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
