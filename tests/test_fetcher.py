"""Guarded fetching and delivery against a real HTTP server on 127.0.0.1.

The server is a ``ThreadingHTTPServer`` in a thread with a route table each test fills
in. Only 127.0.0.0/8 is ever contacted: names used in tests are refused by the guard
before any connection, or answered by a fake resolver.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from fediverse_ai.errors import DeliveryError, FetchError, PayloadTooLarge, UnsafeURL
from fediverse_ai.fetcher import (
    ACCEPT_AS2,
    FetchLimits,
    fetch_ap_object,
    fetch_bytes,
    is_as2_content_type,
    post_activity,
)
from fediverse_ai.inbox_client import InboxClient
from fediverse_ai.netguard import NetGuard, pinned_transport

AS2 = "application/activity+json"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Iterator[bytes] | None = None  # streamed without Content-Length when set
    wait: threading.Event | None = None  # hold the response until the test ends


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.routes: dict[str, Callable[[], Reply]] = {}
        self.seen: list[Seen] = []
        self.release = threading.Event()

    def url(self, path: str) -> str:
        return self.base + path

    def json(self, path: str, doc: dict[str, Any], content_type: str = AS2) -> None:
        body = json.dumps(doc).encode()
        self.routes[path] = lambda: Reply(headers={"Content-Type": content_type}, body=body)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = lambda: Reply(status=status, headers={"Location": location})

    def paths(self) -> list[str]:
        return [seen.path for seen in self.seen]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hang up mid-response on purpose in these tests; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; bodies end at close
    server: LoopbackServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        route = self.server.routes.get(self.path)
        reply = route() if route else Reply(status=404, body=b"no such route")
        if reply.wait is not None:
            reply.wait.wait(timeout=10)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is None:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        try:
            if reply.chunks is None:
                self.wfile.write(reply.body)
            else:
                for chunk in reply.chunks:
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy from the environment must never see test traffic.
    async with httpx.AsyncClient(follow_redirects=False, timeout=5.0, trust_env=False) as c:
        yield c


@pytest.fixture
async def inbox_client() -> AsyncIterator[InboxClient]:
    c = InboxClient(lambda: LOCAL, user_agent="fediverse-ai-test")
    yield c
    await c.aclose()


async def _no_dns(host: str, port: int) -> list[str]:
    raise OSError("tests do not resolve names")


LOCAL = NetGuard(allow_private=True, resolver=_no_dns)


@dataclass(frozen=True)
class TrustOneHost(NetGuard):
    """Production rules everywhere except the test server's own address."""

    trusted_host: str = "127.0.0.1"
    checked: list[str] = field(default_factory=list)

    async def check_url(self, url: str) -> None:
        self.checked.append(url)
        if httpx.URL(url).host == self.trusted_host:
            await NetGuard(allow_private=True, resolver=_no_dns).check_url(url)
        else:
            await super().check_url(url)


class FakeSigner(httpx.Auth):
    """Marks what it signed: through httpx for fetches, by ``headers_for`` for deliveries."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Signature"] = f'keyId="test",len="{len(request.content)}"'
        yield request

    def headers_for(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]:
        return {"Signature": f'keyId="test",len="{len(body or b"")}"'}


def _streamed(total: int, chunk: int = 65536) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(chunk, total - sent)
        sent += chunk


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- fetch_ap_object ----------------------------------------------------------------------


async def test_fetches_a_matching_document(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    doc = {"@context": AS_CONTEXT, "id": server.url("/users/alice"), "type": "Person"}
    server.json("/users/alice", doc)
    assert await fetch_ap_object(client, server.url("/users/alice"), guard=LOCAL) == doc
    assert server.seen[0].headers["Accept"] == ACCEPT_AS2


async def test_fragment_is_not_sent_and_ids_compare_without_it(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    doc = {"id": server.url("/users/bob"), "type": "Person", "publicKey": {}}
    server.json("/users/bob", doc)
    got = await fetch_ap_object(client, server.url("/users/bob#main-key"), guard=LOCAL)
    assert got == doc
    assert server.paths() == ["/users/bob"]


async def test_signing_auth_is_applied_to_fetches(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json("/n", {"id": server.url("/n")})
    await fetch_ap_object(client, server.url("/n"), guard=LOCAL, auth=FakeSigner())
    assert server.seen[0].headers["Signature"].startswith('keyId="test"')


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        "application/activity+json; charset=utf-8",
        "application/ld+json",
        f'application/ld+json; profile="{AS_CONTEXT}"',
        f'Application/LD+JSON;charset=utf-8; profile="{AS_CONTEXT} https://w3id.org/x"',
    ],
)
def test_as2_content_types_accepted(content_type: str) -> None:
    assert is_as2_content_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "text/html",
        "application/json",
        'application/ld+json; profile="https://example.com/other"',
        "application/activity+jsonx",
    ],
)
def test_other_content_types_refused(content_type: str) -> None:
    assert not is_as2_content_type(content_type)


async def test_html_response_is_not_an_activitypub_document(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json("/page", {"id": server.url("/page")}, content_type="text/html")
    with pytest.raises(FetchError, match="not an ActivityPub document"):
        await fetch_ap_object(client, server.url("/page"), guard=LOCAL)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"id"', b"\xff\xfe"])
async def test_body_must_be_a_json_object(
    server: LoopbackServer, client: httpx.AsyncClient, body: bytes
) -> None:
    server.routes["/bad"] = lambda: Reply(headers={"Content-Type": AS2}, body=body)
    with pytest.raises(FetchError) as caught:
        await fetch_ap_object(client, server.url("/bad"), guard=LOCAL)
    assert "JSON" in caught.value.message


async def test_document_without_id_is_refused(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json("/anon", {"type": "Note"})
    with pytest.raises(FetchError, match="no id"):
        await fetch_ap_object(client, server.url("/anon"), guard=LOCAL)


async def test_cross_host_id_is_refused_without_fetching_it(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json("/fake", {"id": "https://victim.example/users/admin", "type": "Person"})
    with pytest.raises(FetchError, match="id does not match the URL"):
        await fetch_ap_object(client, server.url("/fake"), guard=LOCAL)
    assert server.paths() == ["/fake"]


async def test_same_host_id_is_refetched_once_from_the_id(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    canonical = {"id": server.url("/users/carol"), "type": "Person"}
    server.json("/@carol", {"id": server.url("/users/carol"), "type": "Person", "stale": True})
    server.json("/users/carol", canonical)
    assert await fetch_ap_object(client, server.url("/@carol"), guard=LOCAL) == canonical
    assert server.paths() == ["/@carol", "/users/carol"]


async def test_refetched_document_must_match_its_own_url(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json("/a", {"id": server.url("/b")})
    server.json("/b", {"id": server.url("/c")})
    server.json("/c", {"id": server.url("/c")})
    with pytest.raises(FetchError, match="id does not match the URL"):
        await fetch_ap_object(client, server.url("/a"), guard=LOCAL)
    assert server.paths() == ["/a", "/b"]


async def test_open_redirect_cannot_lend_a_document_another_id(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    """A document reached by redirect is judged by the URL that served it."""
    server.redirect("/go", server.url("/users/dave"))
    server.json("/users/dave", {"id": server.url("/users/dave")})
    assert await fetch_ap_object(client, server.url("/go"), guard=LOCAL) == {
        "id": server.url("/users/dave")
    }
    # An open redirect on one host must not let another host speak for it: the redirect
    # itself is refused, before the other host is asked anything.
    port = server.server_address[1]
    server.redirect("/go2", f"http://localhost:{port}/evil")
    server.json("/evil", {"id": server.url("/go2")})
    with pytest.raises(FetchError, match="redirected to another origin"):
        await fetch_ap_object(client, server.url("/go2"), guard=LOCAL)
    assert server.paths()[-1] == "/go2"


async def test_a_redirect_to_another_host_cannot_lend_its_document(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    """Issue 17: ``https://attacker/users/x`` redirecting to Bob's real actor document (whose
    id is the final URL) was taken as Bob. An AS2 document only comes from its own origin."""
    port = server.server_address[1]
    bob = f"http://localhost:{port}/users/bob"
    server.json("/users/bob", {"id": bob})
    server.redirect("/users/x", bob)
    with pytest.raises(FetchError, match="redirected to another origin"):
        await fetch_ap_object(client, server.url("/users/x"), guard=LOCAL)
    assert "/users/bob" not in server.paths()
    # The same redirect inside one origin still works (Mastodon's /@bob -> /users/bob).
    server.redirect("/@bob", "/users/bob")
    server.json("/users/bob", {"id": server.url("/users/bob")})
    assert await fetch_ap_object(client, server.url("/@bob"), guard=LOCAL) == {
        "id": server.url("/users/bob")
    }


# --- fetch_bytes: redirects, guard, limits ------------------------------------------------


async def test_redirect_chain_of_three_is_followed(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.redirect("/r1", server.url("/r2"), status=301)
    server.redirect("/r2", "/r3", status=307)  # relative Location
    server.redirect("/r3", "final", status=308)
    server.json("/final", {"id": server.url("/final")})
    guard = TrustOneHost(resolver=_no_dns)
    fetched = await fetch_bytes(client, server.url("/r1"), guard=guard, accept=ACCEPT_AS2)
    assert fetched.url == server.url("/final")
    assert fetched.status == 200
    assert fetched.content_type == AS2
    assert json.loads(fetched.body) == {"id": server.url("/final")}
    assert guard.checked == [server.url(p) for p in ("/r1", "/r2", "/r3", "/final")]


async def test_redirect_chain_of_four_is_refused(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    for n in range(1, 5):
        server.redirect(f"/r{n}", f"/r{n + 1}")
    server.json("/r5", {"id": server.url("/r5")})
    with pytest.raises(FetchError, match="too many redirects"):
        await fetch_ap_object(client, server.url("/r1"), guard=LOCAL)
    assert server.paths() == ["/r1", "/r2", "/r3", "/r4"]


async def test_max_redirects_is_configurable(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.redirect("/r", "/doc")
    server.json("/doc", {"id": server.url("/doc")})
    with pytest.raises(FetchError, match="too many redirects"):
        await fetch_bytes(
            client, server.url("/r"), guard=LOCAL, accept="*/*", limits=FetchLimits(max_redirects=0)
        )


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/doc",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/doc",
        "http://2130706433:{port}/doc",
        "http://internal.example/doc",
        "file:///etc/passwd",
    ],
)
async def test_redirect_to_a_private_address_is_refused(
    server: LoopbackServer, client: httpx.AsyncClient, target: str
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return {"internal.example": ["10.0.0.5"]}[host]

    server.redirect("/out", target.format(port=server.server_address[1]))
    guard = TrustOneHost(resolver=resolver)
    # fetch_bytes: ActivityPub documents refuse a redirect to another origin even sooner.
    with pytest.raises(UnsafeURL):
        await fetch_bytes(client, server.url("/out"), guard=guard, accept="*/*")
    assert server.paths() == ["/out"]


async def test_guard_refuses_the_first_url_before_connecting(client: httpx.AsyncClient) -> None:
    port = _unused_port()
    with pytest.raises(UnsafeURL, match="not public"):
        await fetch_bytes(
            client, f"http://127.0.0.1:{port}/", guard=NetGuard(resolver=_no_dns), accept="*/*"
        )


async def test_streamed_oversized_body_is_refused(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/big"] = lambda: Reply(
        headers={"Content-Type": AS2}, chunks=_streamed(8 * 1_048_576)
    )
    with pytest.raises(PayloadTooLarge):
        await fetch_ap_object(client, server.url("/big"), guard=LOCAL)


async def test_declared_oversized_body_is_refused_up_front(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/big"] = lambda: Reply(headers={"Content-Type": AS2}, body=b"x" * 1000)
    with pytest.raises(PayloadTooLarge):
        await fetch_bytes(client, server.url("/big"), guard=LOCAL, accept="*/*", max_bytes=999)
    fetched = await fetch_bytes(
        client, server.url("/big"), guard=LOCAL, accept="*/*", limits=FetchLimits(max_bytes=1000)
    )
    assert len(fetched.body) == 1000


async def test_body_at_exactly_the_cap_is_accepted(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/edge"] = lambda: Reply(chunks=_streamed(5000, chunk=1000))
    fetched = await fetch_bytes(
        client, server.url("/edge"), guard=LOCAL, accept="*/*", max_bytes=5000
    )
    assert fetched.body == b"x" * 5000
    server.routes["/edge"] = lambda: Reply(chunks=_streamed(5001, chunk=1000))
    with pytest.raises(PayloadTooLarge):
        await fetch_bytes(client, server.url("/edge"), guard=LOCAL, accept="*/*", max_bytes=5000)


async def test_dns_rebinding_cannot_reach_a_private_address(server: LoopbackServer) -> None:
    """The name passes the check (a public answer), then resolves to loopback: the pinned
    transport connects only to what it checked itself, so the request never lands."""
    answers: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        answers.append(host)
        return ["93.184.216.34"] if len(answers) == 1 else ["127.0.0.1"]

    guard = NetGuard(allow_private=False, resolver=rebinding)
    server.routes["/secret"] = lambda: Reply(headers={"Content-Type": AS2}, body=b"{}")
    url = server.url("/secret").replace("127.0.0.1", "localhost")
    transport = pinned_transport(lambda: guard, limits=httpx.Limits())
    async with httpx.AsyncClient(transport=transport, trust_env=False) as pinned:
        with pytest.raises(UnsafeURL, match="non-public"):
            await fetch_bytes(pinned, url, guard=guard, accept="*/*")
    assert answers == ["localhost", "localhost"]  # checked once, then again at connect time
    assert "/secret" not in server.paths()


async def test_the_pinned_transport_guards_requests_that_skip_the_url_check(
    server: LoopbackServer,
) -> None:
    server.routes["/x"] = lambda: Reply(body=b"ok")
    strict = NetGuard(allow_private=False, resolver=_no_dns)
    transport = pinned_transport(lambda: strict, limits=httpx.Limits())
    async with httpx.AsyncClient(transport=transport, trust_env=False) as pinned:
        with pytest.raises(UnsafeURL, match="not public"):
            await pinned.get(server.url("/x"))
    assert server.paths() == []
    transport = pinned_transport(lambda: LOCAL, limits=httpx.Limits())
    async with httpx.AsyncClient(transport=transport, trust_env=False) as allowed:
        assert (await allowed.get(server.url("/x"))).text == "ok"


async def test_compressed_bodies_are_decoded_and_the_cap_applies_to_decoded_bytes(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    doc = {"@context": AS_CONTEXT, "id": server.url("/zipped"), "type": "Note"}
    for encoding, packed in (
        ("gzip", gzip.compress(json.dumps(doc).encode())),
        ("deflate", zlib.compress(json.dumps(doc).encode())),
    ):
        server.routes["/zipped"] = lambda p=packed, e=encoding: Reply(
            headers={"Content-Type": AS2, "Content-Encoding": e}, body=p
        )
        assert await fetch_ap_object(client, server.url("/zipped"), guard=LOCAL) == doc


async def test_a_gzip_bomb_is_refused_without_inflating_it_in_memory(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    # 64 MB of zeros squeeze into about 64 KB, one network read or two.
    bomb = gzip.compress(b"\0" * (64 * 1_048_576), compresslevel=9)
    server.routes["/bomb"] = lambda: Reply(
        headers={"Content-Type": AS2, "Content-Encoding": "gzip"}, body=bomb
    )
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            await fetch_ap_object(client, server.url("/bomb"), guard=LOCAL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The 1 MB cap plus bookkeeping, not the 64 MB the body inflates to.
    assert peak < 8 * 1_048_576, peak


async def test_unknown_content_encodings_are_refused(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/br"] = lambda: Reply(
        headers={"Content-Type": AS2, "Content-Encoding": "br"}, body=b"\x0b\x02\x80{}\x03"
    )
    with pytest.raises(FetchError, match="unsupported content encoding"):
        await fetch_ap_object(client, server.url("/br"), guard=LOCAL)


@pytest.mark.parametrize("status", [404, 410, 500])
async def test_error_status_is_a_fetch_error_with_the_status(
    server: LoopbackServer, client: httpx.AsyncClient, status: int
) -> None:
    server.routes["/x"] = lambda: Reply(status=status, body=b"secret internals")
    with pytest.raises(FetchError) as caught:
        await fetch_ap_object(client, server.url("/x"), guard=LOCAL)
    assert caught.value.http_status == status
    assert "secret" not in caught.value.message


async def test_redirect_without_location_is_an_error(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/r"] = lambda: Reply(status=302)
    with pytest.raises(FetchError) as caught:
        await fetch_bytes(client, server.url("/r"), guard=LOCAL, accept="*/*")
    assert caught.value.http_status == 302


async def test_connection_refused_is_a_fetch_error(client: httpx.AsyncClient) -> None:
    url = f"http://127.0.0.1:{_unused_port()}/"
    with pytest.raises(FetchError, match="could not connect") as caught:
        await fetch_bytes(client, url, guard=LOCAL, accept="*/*")
    assert not isinstance(caught.value, UnsafeURL)


async def test_total_timeout_bounds_a_stalled_server(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/stall"] = lambda: Reply(wait=server.release)
    with pytest.raises(FetchError, match="timed out"):
        await fetch_bytes(
            client,
            server.url("/stall"),
            guard=LOCAL,
            accept="*/*",
            limits=FetchLimits(total_timeout=0.2),
        )


# --- post_activity ------------------------------------------------------------------------

ACTIVITY = json.dumps({"type": "Create", "id": "https://local.test/activities/1"}).encode()
SIGNER = FakeSigner()


async def test_post_202_is_delivered(server: LoopbackServer, inbox_client: InboxClient) -> None:
    server.routes["/inbox"] = lambda: Reply(status=202)
    await post_activity(
        inbox_client, server.url("/inbox"), ACTIVITY, guard=LOCAL, auth=FakeSigner()
    )
    [seen] = server.seen
    assert (seen.method, seen.body) == ("POST", ACTIVITY)
    assert seen.headers["Content-Type"] == AS2
    assert seen.headers["Accept"] == ACCEPT_AS2
    assert seen.headers["Signature"] == f'keyId="test",len="{len(ACTIVITY)}"'


async def test_post_400_is_permanent(server: LoopbackServer, inbox_client: InboxClient) -> None:
    server.routes["/inbox"] = lambda: Reply(status=400, body=b"bad\x00 signature\n" + b"y" * 9000)
    with pytest.raises(DeliveryError) as caught:
        await post_activity(
            inbox_client, server.url("/inbox"), ACTIVITY, guard=LOCAL, auth=FakeSigner()
        )
    err = caught.value
    assert (err.permanent, err.http_status, err.retry_after) == (True, 400, None)
    assert err.message.startswith("inbox returned HTTP 400: bad signature y")
    assert len(err.message) < 300


async def test_post_429_with_retry_after_is_retried(
    server: LoopbackServer, inbox_client: InboxClient
) -> None:
    server.routes["/inbox"] = lambda: Reply(status=429, headers={"Retry-After": "120"})
    with pytest.raises(DeliveryError) as caught:
        await post_activity(
            inbox_client, server.url("/inbox"), ACTIVITY, guard=LOCAL, auth=FakeSigner()
        )
    assert (caught.value.permanent, caught.value.http_status) == (False, 429)
    assert caught.value.retry_after == 120.0


@pytest.mark.parametrize(
    ("status", "permanent"), [(503, False), (401, False), (410, True), (501, True)]
)
async def test_post_status_classification(
    server: LoopbackServer, inbox_client: InboxClient, status: int, permanent: bool
) -> None:
    server.routes["/inbox"] = lambda: Reply(status=status)
    with pytest.raises(DeliveryError) as caught:
        await post_activity(
            inbox_client, server.url("/inbox"), ACTIVITY, guard=LOCAL, auth=FakeSigner()
        )
    assert (caught.value.permanent, caught.value.http_status) == (permanent, status)


async def test_post_does_not_follow_redirects(
    server: LoopbackServer, inbox_client: InboxClient
) -> None:
    server.redirect("/inbox", "/elsewhere", status=308)
    server.routes["/elsewhere"] = lambda: Reply(status=202)
    with pytest.raises(DeliveryError) as caught:
        await post_activity(
            inbox_client, server.url("/inbox"), ACTIVITY, guard=LOCAL, auth=FakeSigner()
        )
    assert (caught.value.permanent, caught.value.http_status) == (False, 308)
    assert server.paths() == ["/inbox"]


async def test_post_connection_refused_is_retried(inbox_client: InboxClient) -> None:
    url = f"http://127.0.0.1:{_unused_port()}/inbox"
    with pytest.raises(DeliveryError) as caught:
        await post_activity(inbox_client, url, ACTIVITY, guard=LOCAL, auth=FakeSigner())
    assert caught.value.permanent is False
    assert caught.value.http_status is None


async def test_post_timeout_is_retried(server: LoopbackServer, inbox_client: InboxClient) -> None:
    server.routes["/inbox"] = lambda: Reply(wait=server.release)
    with pytest.raises(DeliveryError, match="timed out") as caught:
        await post_activity(
            inbox_client,
            server.url("/inbox"),
            ACTIVITY,
            guard=LOCAL,
            auth=FakeSigner(),
            timeout=0.2,
        )
    assert caught.value.permanent is False


async def test_post_to_unsafe_inbox_is_permanent_without_connecting(
    inbox_client: InboxClient,
) -> None:
    guard = NetGuard(resolver=_no_dns)
    with pytest.raises(DeliveryError, match="not public") as caught:
        await post_activity(
            inbox_client, "http://10.0.0.1/inbox", ACTIVITY, guard=guard, auth=FakeSigner()
        )
    assert caught.value.permanent is True


async def test_post_to_unresolvable_inbox_is_retried(inbox_client: InboxClient) -> None:
    guard = NetGuard(resolver=_no_dns)
    with pytest.raises(DeliveryError, match="cannot resolve") as caught:
        await post_activity(
            inbox_client, "https://gone.example/inbox", ACTIVITY, guard=guard, auth=FakeSigner()
        )
    assert caught.value.permanent is False
