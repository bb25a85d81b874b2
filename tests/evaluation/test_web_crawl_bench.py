import posixpath
import re
import shutil
import socket
from pathlib import Path

import pytest
from rich.console import Console

from evaluation.perf.web_crawl import (
    DOCS_DIR,
    RAW_NAME,
    measure_site,
    sailyard_name,
    serve_directory,
)
from lakehouse.errors import SailyardError

needs_docs = pytest.mark.skipif(
    not (DOCS_DIR / "index.html").is_file(),
    reason=f"the Python docs are not installed at {DOCS_DIR} (apt-get install python3.11-doc)",
)
N_PAGES = 30
MAX_PAGE_BYTES = 200_000  # leave out the few huge pages (contents.html: 2.5 MB)


def small_docs_site(target: Path) -> Path:
    """index.html and the first 30 small pages reachable from it, breadth first (same paths)."""
    chosen = ["index.html"]
    for page in chosen:
        if len(chosen) > N_PAGES:
            break
        text = (DOCS_DIR / page).read_text(encoding="utf-8")
        for href in re.findall(r'href="([\w./-]+\.html)"', text):
            linked = posixpath.normpath(posixpath.join(posixpath.dirname(page), href))
            path = DOCS_DIR / linked
            small = path.is_file() and path.stat().st_size < MAX_PAGE_BYTES
            if small and not href.startswith("/") and linked not in chosen:
                chosen.append(linked)
    for page in chosen[: N_PAGES + 1]:
        (target / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DOCS_DIR / page, target / page)
    return target


def test_a_missing_site_says_how_to_install_it(tmp_path):
    with pytest.raises(SailyardError, match=r"apt-get install python3\.11-doc"):
        measure_site(tmp_path / "absent", repeat=1, console=Console(quiet=True))


def test_the_server_answers_and_stops(tmp_path):
    (tmp_path / "index.html").write_text("<html><body>hello</body></html>")
    with serve_directory(tmp_path) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
    port = int(base_url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@needs_docs
@pytest.mark.slow
def test_web_crawl_benchmark_on_a_small_copy_of_the_docs(tmp_path):
    site = small_docs_site(tmp_path)
    report = measure_site(site, repeat=1, console=Console(quiet=True))
    crawl, *extraction = report.measurements
    assert crawl.unit == "fetches"
    assert crawl.items > N_PAGES
    assert crawl.seconds > 0
    html_pages = {m.items for m in extraction}
    assert len(html_pages) == 1  # every extraction row is over the same pages
    assert N_PAGES <= html_pages.pop() <= crawl.items
    for workers in (2, 1):
        assert report.ratio(sailyard_name(workers)) > 0
    assert sum(m.name == RAW_NAME for m in report.measurements) == 2
    notes = "\n".join(report.notes)
    assert "404" in notes  # pages linked but not copied
    assert "kept:" in notes
    assert "boilerplate:" in notes
    assert "the same documents" in notes
