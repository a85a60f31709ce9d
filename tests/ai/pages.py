"""A web server on loopback for the pages the AI actor is asked to read.

Real HTTP, answering what the test registers (status, headers, body) and recording every
request, so a test can tell a page that was read from one that was never fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class PageServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                pages.requests.append((self.path, dict(self.headers.items())))
                route = pages.routes.get(self.path, Route(404, {"Content-Type": "text/plain"}))
                try:
                    self.send_response(route.status)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading at its cap

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.base_url = f"http://{host}:{self._server.server_address[1]}"

    def html(self, path: str, body: str, **headers: str) -> str:
        """Serve ``body`` as HTML at ``path``; returns its URL."""
        self.routes[path] = Route(
            200, {"Content-Type": "text/html; charset=utf-8", **headers}, body.encode()
        )
        return self.base_url + path

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    @contextmanager
    def running(self) -> Iterator[PageServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)


def article(sentence: str, *, head: str = "") -> str:
    """A page with boilerplate around one article, the way blogs and news sites are made."""
    return f"""<!doctype html><html><head><title>Birds of Lyon | The City Blog</title>{head}</head>
<body><nav><a href="/">Home</a> <a href="/about">About us</a>
<a href="/shop">Shop the merch</a></nav>
<aside>Subscribe to our newsletter for weekly deals!</aside>
<article><h1>Birds of Lyon</h1><p>{sentence}</p>
<p>Swifts arrive in April and leave the city again in the first days of August, when
their young can fly.</p></article>
<footer>Copyright The City Blog. Cookie settings. Privacy policy.</footer></body></html>"""
