"""The tool service for real: uvicorn on a free loopback port over an index of replayed
articles, compared with the in-process tools; the micro-batcher on the same index."""

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from lakehouse import Lakehouse, paths
from lakehouse.errors import SailyardError
from lakehouse.index.batching import SearchBatcher
from lakehouse.index.chunking import chunk_documents
from lakehouse.index.client import ToolClient, ToolServiceError, open_tools
from lakehouse.index.embedder import default_embedder, embed_passages
from lakehouse.index.search_index import SearchIndex, build_index
from lakehouse.index.service import (
    BackgroundServer,
    ServiceSettings,
    check_host,
    create_app,
    is_loopback,
)
from lakehouse.index.tools import BlockList, LocalTools, page_lookup, search_tool, visit_tool
from tests.conftest import build_replayed_lakehouse, subprocess_env
from tests.loopback import QuietHandler, serve

SAILYARD = shutil.which("sailyard", path=str(Path(sys.executable).parent)) or "sailyard"
N_ARTICLES = 40


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lakehouse of 40 replayed articles with their passages indexed in its LanceDB dir."""
    root = tmp_path_factory.mktemp("service") / "lakehouse"
    lakehouse = Lakehouse(root)
    build_replayed_lakehouse(lakehouse, limit=N_ARTICLES)
    passages = embed_passages(chunk_documents(lakehouse.read("documents")), default_embedder())
    build_index(passages, paths.lancedb_dir(root))
    return root


@pytest.fixture(scope="module")
def documents(root: Path):
    return Lakehouse(root).read("documents")


@pytest.fixture(scope="module")
def index(root: Path) -> SearchIndex:
    return SearchIndex(paths.lancedb_dir(root), embedder=default_embedder())


@pytest.fixture(scope="module")
def pages(documents):
    return page_lookup(documents)


@pytest.fixture(scope="module")
def queries(documents) -> list[str]:
    """Real questions: some pages' descriptions, and two titles."""
    described = documents.filter(documents["description"].is_not_null())
    return [*described["description"].head(6).to_list(), *documents["title"].head(2).to_list()]


@pytest.fixture(scope="module")
def server(index, pages):
    with BackgroundServer(create_app(index, pages)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with ToolClient(server.url) as tool_client:
        yield tool_client


def test_search_over_http_equals_in_process(index, client, queries):
    for mode in ("bm25", "dense", "hybrid"):
        assert client.search_tool(queries[:3], k=5, mode=mode) == search_tool(
            index, queries[:3], k=5, mode=mode
        )
    response = client.search(queries, k=4)
    expected = index.search(queries, "hybrid", 4, unique_docs=True)
    assert response.queries == queries
    for hits, wanted in zip(response.hits, expected, strict=True):
        assert [(h.passage_id, h.url, h.title) for h in hits] == [
            (w.passage_id, w.url, w.title) for w in wanted
        ]
        assert all(hit.snippet and len(hit.snippet) <= 302 for hit in hits)
    assert response.index_version == index.version
    assert response.block_list == "none"
    # what the tool does with odd input: a bare string, blanks, nothing left
    assert client.search_tool(queries[0]) == search_tool(index, queries[0])
    assert client.search_tool(["  ", queries[1]]) == search_tool(index, ["  ", queries[1]])
    assert client.search_tool([" "]) == search_tool(index, [" "])


def test_visit_over_http_equals_in_process(index, pages, client, documents):
    urls = documents["url"].head(2).to_list()
    for url, goal, page in ((urls[0], "history", 0), (urls, "where is it", 0)):
        assert client.visit_tool(url, goal, page=page) == visit_tool(index, pages, url, goal, page)
    small = client.visit_tool(urls[0], "history", page=1, page_chars=200)
    assert small == visit_tool(index, pages, urls[0], "history", page=1, page_chars=200)
    unknown = client.visit_tool("https://example.org/nowhere", "x")
    assert "no page with this URL is known" in unknown


def test_local_and_http_tools_are_interchangeable(index, documents, server, queries):
    local = open_tools(index=index, documents=documents)
    remote = open_tools(server.url)
    assert isinstance(local, LocalTools)
    assert isinstance(remote, ToolClient)
    url = documents["url"][0]
    for tools in (local, remote):
        assert tools.search_tool(queries[:2], k=3) == search_tool(index, queries[:2], k=3)
        assert tools.visit_tool(url, "goal") == visit_tool(index, documents, url, "goal")
    remote.close()
    with pytest.raises(SailyardError, match="endpoint"):
        open_tools()


def test_health_describes_the_index(client, index, root):
    health = client.health()
    assert health["status"] == "ok"
    assert health["index_dir"] == str(paths.lancedb_dir(root).resolve())
    assert health["table_version"] == index.version
    assert health["row_count"] == index.count()
    assert health["embedding_model"] == index.embedding_model
    assert health["visit"] is True
    assert health["batching"]["window_ms"] == 2.0
    assert health["batching"]["max_batch_queries"] == 64


def _concurrently(url: str, bodies: list[list[str]]) -> list[list[list[str]]]:
    """POST every body at once from its own thread; each one's hit URLs per query."""
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def send(position: int) -> None:
        with ToolClient(url) as own:
            barrier.wait()
            response = own.search(bodies[position], k=3)
            results[position] = [[hit.url for hit in hits] for hits in response.hits]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_are_merged_into_batches(index, pages, queries):
    settings = ServiceSettings(batch_window_ms=300, max_batch_queries=4)
    bodies = [[queries[i % len(queries)], queries[(i + 3) % len(queries)]] for i in range(10)]
    with (
        BackgroundServer(create_app(index, pages, settings)) as running,
        ToolClient(running.url) as tool_client,
    ):
        before = tool_client.health()["batching"]
        results = _concurrently(running.url, bodies)
        after = tool_client.health()["batching"]
    for body, urls in zip(bodies, results, strict=True):
        expected = index.search(body, "hybrid", 3, unique_docs=True)
        assert urls == [[hit.url for hit in hits] for hits in expected]
    requests = after["requests"] - before["requests"]
    batches = after["batches"] - before["batches"]
    assert requests == 10
    assert after["queries"] - before["queries"] == 20
    assert 5 <= batches < 10  # 20 queries, at most 4 per batch; some requests merged
    assert after["largest_batch"] == 4
    assert after["embed_calls"] - before["embed_calls"] == batches  # one embedding per batch


def test_announced_requests_form_one_batch_with_one_embedding_call(index, queries):
    with SearchBatcher(index, window_s=5.0, max_queries=64) as batcher:
        arrivals = [batcher.expect() for _ in range(6)]
        futures: list = [None] * 6

        def submit(position: int) -> None:
            futures[position] = batcher.submit([queries[position]], k=3, arrival=arrivals[position])

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results = [future.result(timeout=30) for future in futures]
        assert time.perf_counter() - started < 4.0  # closed when all arrived, not at 5 s
        stats = batcher.stats()
    assert (stats.batches, stats.search_calls, stats.embed_calls, stats.queries) == (1, 1, 1, 6)
    for query, hits in zip(queries[:6], results, strict=True):
        assert [h.url for h in hits[0]] == [
            h.url for h in index.search([query], "hybrid", 3, unique_docs=True)[0]
        ]


def test_a_batch_splits_by_k_mode_and_block_list_and_respects_its_size(index, queries):
    [[top]] = index.search([queries[3]], "hybrid", 1, unique_docs=True)
    block = BlockList(urls={top.url})
    with SearchBatcher(index, window_s=5.0, max_queries=4) as batcher:
        arrivals = [batcher.expect() for _ in range(5)]
        jobs = [
            batcher.submit([queries[0]], k=3, arrival=arrivals[0]),
            batcher.submit([queries[1]], k=5, arrival=arrivals[1]),
            batcher.submit([queries[2]], k=3, mode="bm25", arrival=arrivals[2]),
            batcher.submit([queries[3]], k=3, block=block, arrival=arrivals[3]),
            batcher.submit([queries[4]], k=3, arrival=arrivals[4]),
        ]
        results = [job.result(timeout=30)[0] for job in jobs]
        stats = batcher.stats()
    assert (len(results[0]), len(results[1]), len(results[4])) == (3, 5, 3)
    assert top.url not in {hit.url for hit in results[3]}
    expected = index.search([queries[2]], "bm25", 3, unique_docs=True)[0]
    assert [hit.url for hit in results[2]] == [hit.url for hit in expected]
    assert stats.batch_sizes == [4, 1]  # the fifth did not fit in the first batch
    # the first batch: (hybrid, 3), (hybrid, 5), (bm25, 3), (hybrid, 3, blocked); then one
    assert stats.search_calls == 5
    assert stats.embed_calls == 2  # one per batch, for all its dense and hybrid texts


def test_a_lone_request_does_not_wait_for_the_window(index, queries):
    with SearchBatcher(index, window_s=10.0) as batcher:
        batcher.submit([queries[0]]).result(timeout=30)  # warm
        started = time.perf_counter()
        batcher.submit([queries[1]]).result(timeout=30)
        assert time.perf_counter() - started < 5.0


def test_errors_reach_the_caller_and_the_batcher_survives(index, queries):
    with SearchBatcher(index) as batcher:
        with pytest.raises(ValueError, match="k must be at least 1"):
            batcher.submit([queries[0]], k=0).result(timeout=30)
        assert batcher.submit([queries[0]], k=2).result(timeout=30)[0]
        assert batcher.submit([]).result(timeout=1) == []


def test_block_lists_of_the_service_and_of_each_call_are_merged(index, pages, queries):
    [top] = index.search([queries[0]], "hybrid", 1, unique_docs=True)[0]
    [second_list] = index.search([queries[0]], "hybrid", 1, block_urls=[top.url], unique_docs=True)
    second = second_list[0]
    settings = ServiceSettings(block=BlockList(urls={top.url}))
    with (
        BackgroundServer(create_app(index, pages, settings)) as running,
        ToolClient(running.url) as tool_client,
    ):
        text = tool_client.search_tool(queries[0], k=5)
        assert top.url not in text
        assert text == search_tool(index, queries[0], k=5, block=BlockList(urls={top.url}))
        both = BlockList(urls={top.url, second.url})
        merged = tool_client.search(queries[0], k=5, block=BlockList(urls={second.url}))
        assert merged.block_list == both.fingerprint()
        assert {top.url, second.url}.isdisjoint(h.url for h in merged.hits[0])
        visited = tool_client.visit_tool(top.url, "anything")
        assert "this page is blocked in this run" in visited
        by_doc = tool_client.visit_tool(
            second.url, "anything", block=BlockList(doc_ids={second.doc_id})
        )
        assert "blocked" in by_doc
        assert tool_client.health()["block_list"]["urls"] == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/search", {}, "query"),
        ("/search", {"query": 5}, "query"),
        ("/search", {"query": ["a", 3]}, "query[1]"),
        ("/search", {"query": ["a"], "k": 0}, "k"),
        ("/search", {"query": ["a"], "k": 1000}, "k"),
        ("/search", {"query": ["a"], "mode": "sparse"}, "mode"),
        ("/search", {"query": ["a"], "block_urls": "x"}, "block_urls"),
        ("/search", {"query": ["a"], "top_k": 3}, "top_k"),
        ("/visit", {"url": "https://x.org"}, "goal"),
        ("/visit", {"url": 7, "goal": "g"}, "url"),
        ("/visit", {"url": "u", "goal": "g", "page": -1}, "page"),
        ("/visit", {"url": "u", "goal": "g", "page_chars": 10}, "page_chars"),
    ],
)
def test_bad_requests_get_a_422_naming_the_field(server, path, body, field):
    response = httpx.post(server.url + path, json=body)
    assert response.status_code == 422
    answer = response.json()
    assert field in [item["field"] for item in answer["fields"]]
    assert answer["error"].startswith("invalid request: ")
    assert f"{field}:" in answer["error"]


def test_a_body_that_is_not_json_and_the_client_errors(server, client):
    response = httpx.post(
        server.url + "/search", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body"
    with pytest.raises(ToolServiceError, match=r"422: invalid request: k: "):
        client.search(["a"], k=0)
    with pytest.raises(ToolServiceError, match="cannot reach the tool service"):
        ToolClient("http://127.0.0.1:9", timeout=2).health()


def test_a_tool_endpoint_answers_post_only(server):
    response = httpx.get(server.url + "/search")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert response.json()["error"] == "/search answers POST only"
    assert httpx.get(server.url + "/nowhere").status_code == 404


def test_one_client_shared_by_threads_keeps_one_connection_each(index, client, queries):
    answers: list = [None] * 4
    connections: list = [None] * 4

    def ask(position: int) -> None:
        answers[position] = [client.search_tool(queries[position], k=3) for _ in range(3)]
        connections[position] = client._http._connection()  # the one its three calls used

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for query, texts in zip(queries, answers, strict=False):
        assert texts == [search_tool(index, query, k=3)] * 3
    assert len({id(connection) for connection in connections}) == 4
    assert all(connection.sock is not None for connection in connections)  # kept alive


class _Scripted(QuietHandler):
    """A server that misbehaves on purpose: it closes every connection after one answer
    without saying so (a kept-alive connection gone stale), and answers by path."""

    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_GET(self) -> None:  # http.server calls do_<METHOD>
        if self.path == "/health":
            self._answer(200, json.dumps({"status": "ok"}).encode())
        elif self.path == "/slow/health":
            time.sleep(1.5)
            self._answer(200, b"{}")
        elif self.path == "/text/health":
            self._answer(200, b"not json", "text/plain")
        else:
            self._answer(500, b"Internal Server Error", "text/plain")


@pytest.fixture(scope="module")
def scripted():
    with serve(_Scripted) as base_url:
        yield base_url


def test_the_client_reconnects_when_a_kept_alive_connection_went_stale(scripted):
    with ToolClient(scripted) as tool_client:
        for _ in range(3):  # each call after the first finds its connection closed
            assert tool_client.health() == {"status": "ok"}


def test_client_errors_name_the_url_and_the_cause(scripted):
    with pytest.raises(ToolServiceError, match=r"at http://127\.0\.0\.1:\d+/slow/health did not"):
        ToolClient(scripted + "/slow", timeout=0.3).health()
    with pytest.raises(ToolServiceError, match=r"/health answered 200 without a JSON object"):
        ToolClient(scripted + "/text").health()
    with pytest.raises(ToolServiceError, match=r"/health answered 500: Internal Server Error"):
        ToolClient(scripted + "/other").health()
    with pytest.raises(ToolServiceError, match="must be http"):
        ToolClient("127.0.0.1:8765")


def test_visit_without_documents_is_a_503(index, queries):
    with (
        BackgroundServer(create_app(index)) as running,
        ToolClient(running.url) as tool_client,
    ):
        assert tool_client.search_tool(queries[0]) == search_tool(index, queries[0])
        with pytest.raises(ToolServiceError, match=r"503: .*no documents"):
            tool_client.visit_tool("https://en.wikipedia.org/wiki/X", "g")


def test_only_loopback_addresses_unless_allowed(index):
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.4")
    with pytest.raises(SailyardError, match="not a loopback address"):
        check_host("0.0.0.0", allow_non_loopback=False)
    check_host("0.0.0.0", allow_non_loopback=True)
    with pytest.raises(SailyardError, match="loopback"):
        BackgroundServer(create_app(index), host="0.0.0.0")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_tools_command_serves_the_lakehouse_index(root, index, documents, queries):
    port = _free_port()
    process = subprocess.Popen(
        [SAILYARD, "serve-tools", "--port", str(port), "--block-url", documents["url"][0]],
        env=subprocess_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with ToolClient(f"http://127.0.0.1:{port}") as tool_client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    health = tool_client.health()
                    break
                except ToolServiceError:
                    assert process.poll() is None, process.stdout.read()
                    assert time.monotonic() < deadline, "serve-tools did not start"
                    time.sleep(0.25)
            assert health["row_count"] == index.count()
            assert health["block_list"]["urls"] == 1
            block = BlockList(urls={documents["url"][0]})
            assert tool_client.search_tool(queries[:2]) == search_tool(
                index, queries[:2], block=block
            )
            url = documents["url"][1]
            assert tool_client.visit_tool(url, "goal") == visit_tool(index, documents, url, "goal")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_tools_without_an_index_is_an_error(tmp_path):
    result = subprocess.run(
        [SAILYARD, "serve-tools", "--index-dir", str(tmp_path / "none")],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "no search index table 'passages'" in result.stderr
