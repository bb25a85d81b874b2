"""A scripted HTTP server on loopback for tests of clients (LLM endpoints, the tool service).

`QuietHandler` is a request handler that does not log and can answer JSON; `serve` runs a
threaded server for a handler class on 127.0.0.1 and yields its base URL, shutting it down
afterwards. A client that gives up mid-answer (a timeout test) is not an error of the server.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that keeps the test output clean and answers JSON in one call."""

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests assert on what the server saw, not on its log."""

    def send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    """A threaded server that does not print a traceback when a client hangs up early."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: a client that timed out closed the socket the handler was writing to."""


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], poll_seconds: float = 0.5) -> Iterator[str]:
    """Serve `handler` on a free loopback port; yields "http://127.0.0.1:PORT"."""
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(poll_seconds,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
