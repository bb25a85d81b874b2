"""A live crawl of the loopback test site through the web group's assets, end to end.

What was fetched, skipped, failed and kept — and why — is asserted URL by URL, then the
crawl is killed mid-way in a real `sailyard materialize` process and resumed.
"""

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.partitions import CRAWLS
from lakehouse import Lakehouse, paths
from tests.assets.test_web_assets import materialize_web as _materialize
from tests.conftest import subprocess_env
from tests.dagster_project.test_cli import SAILYARD, run_cli
from tests.lakehouse.web.site import TestSite

HTTP_CONFIG = {
    # 10.255.255.1 is in scope so that the redirect there is refused by the address guard.
    "allowed_hosts": ["127.0.0.1", "10.255.255.1"],
    "allowed_networks": ["127.0.0.0/8"],
    "max_depth": 2,
    "delay_seconds": 0.0,
    "retries": 1,
    "read_timeout": 0.3,
    "page_deadline": 10.0,
    "max_body_bytes": 100_000,
}
# Every URL of the crawl and where it ended: a kept document or a reject reason.
EXPECTED = {
    "/": "kept",  # a page of link texts: trafilatura takes the list as its content
    "/a.html": "near_duplicate",  # of /near-dup.html, whose text is 1 character longer
    "/dup.html": "exact_duplicate",  # same text as /a.html
    "/near-dup.html": "kept",  # canonical of the cluster: the longest text
    "/a/deeper.html": "too_short",
    "/b.html": "too_short",  # two links
    "/sub/page.html": "too_short",
    "/c.html": "too_short",
    "/d.html": "too_short",
    "/bad-utf8.html": "bad_encoding",
    "/malformed.html": "kept",
    "/notes.txt": "too_short",
    "/redirect/1": "kept",  # the chain's final page (9 words)
    "/big.html": "fetch_error",  # body too large
    "/file.bin": "fetch_error",  # skipped: content type
    "/private/secret.html": "fetch_error",  # skipped: robots.txt
    "/slow.html": "fetch_error",  # timeout
    "/to-private": "fetch_error",  # refused address
    "/to-elsewhere": "fetch_error",  # out of scope
    "/missing.html": "http_status",  # 404
    "/unavailable.html": "http_status",  # 503
}


def test_the_site_crawled_through_the_assets_ends_exactly_as_expected(home: Path):
    with TestSite() as site, dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        instance.add_dynamic_partitions(CRAWLS.name, ["site"])
        config = {"http": {"seeds": [site.url("/")], **HTTP_CONFIG}}
        crawled = _materialize(
            instance,
            home,
            [dg.AssetKey("web_snapshots")],
            "site",
            {"ops": {"web_snapshots": {"config": config}}},
        )
        assert crawled.success
        outputs = ["documents", "document_rejects", "document_clusters"]
        assert _materialize(instance, home, [dg.AssetKey(k) for k in outputs]).success
        origin = site.origin

    lakehouse = Lakehouse(home)
    ended = {
        url.removeprefix(origin): outcome
        for url, outcome in lakehouse.sql(
            "SELECT url, 'kept' FROM documents UNION ALL SELECT url, reason FROM document_rejects"
        ).rows()
    }
    assert ended == EXPECTED
    errors = dict(
        lakehouse.sql(
            "SELECT s.url, s.error FROM document_rejects r JOIN web_snapshots s"
            " USING (snapshot_id) WHERE r.reason = 'fetch_error'"
        ).rows()
    )
    assert errors[f"{origin}/private/secret.html"] == "skipped: disallowed by robots.txt"
    assert "refused address 10.255.255.1" in errors[f"{origin}/to-private"]
    cluster = lakehouse.sql("SELECT url, is_canonical FROM document_clusters ORDER BY url").rows()
    assert cluster == [(f"{origin}/a.html", False), (f"{origin}/near-dup.html", True)]
    links = (
        lakehouse.sql(
            "SELECT l.text FROM web_snapshots, UNNEST(links) AS t(l) WHERE url = ? ORDER BY 1",
            [f"{origin}/b.html"],
        )
        .get_column("text")
        .to_list()
    )
    assert links == ["Alpha logo", "Sub page"]
    # the crawl's raw responses are kept as WARC beside the lakehouse tables
    assert list((paths.crawl_dir(home, "site") / "warc").glob("*.warc.gz"))


@pytest.mark.slow
def test_a_killed_crawl_resumes_without_refetching_or_duplicating(tmp_path: Path):
    root = tmp_path / "lakehouse"
    with TestSite(page_delay=0.15) as site:
        config_file = tmp_path / "crawl.yaml"
        config_file.write_text(
            yaml.safe_dump(
                {
                    "web_snapshots": {
                        "http": {"seeds": [site.url("/")], **HTTP_CONFIG, "concurrency": 2}
                    }
                }
            )
        )
        args = [
            "materialize",
            "--select",
            "web_snapshots",
            "--crawl",
            "site",
            "--config",
            str(config_file),
        ]
        process = subprocess.Popen(
            [SAILYARD, *args],
            env=subprocess_env(root),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        state = paths.crawl_dir(root, "site") / "crawl.sqlite"
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and done < 5:
            assert process.poll() is None, "the crawl finished before it could be killed"
            if state.exists():
                with sqlite3.connect(state) as connection:
                    done = connection.execute("SELECT count(*) FROM fetches").fetchone()[0]
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert done >= 5
        lakehouse = Lakehouse(root)
        assert not lakehouse.has_data("web_snapshots")  # nothing half-written
        before = site.log.counts()

        result = run_cli(root, *args)
        assert result.returncode == 0, result.stderr
        after = site.log.counts()

    refetched = {path for path, n in after.items() if n > before.get(path, 0) and before.get(path)}
    assert len(refetched - {"/robots.txt"}) <= 2  # at most the pages in flight at the kill
    snapshots = lakehouse.read("web_snapshots")
    assert snapshots.get_column("url").n_unique() == snapshots.height
    assert snapshots.get_column("snapshot_id").n_unique() == snapshots.height
    assert {u.removeprefix(site.origin) for u in snapshots.get_column("url")} == set(EXPECTED)
