"""The ASGI applications the benchmarks serve besides ours.

* ``bare``: a Quart app that only reads the body and answers 202 (the ceiling);
* ``remote``: the remote actors (documents with keys) and their inboxes, which record
  what arrives (the AI's replies) — a raw ASGI app so that it is never the bottleneck;
* ``sink``: inboxes that answer 202 to any POST (fan-out targets);
* ``openai``: an OpenAI-compatible chat server that answers at once (zero latency).

Apps are built from environment variables so that every ASGI server (uvicorn,
hypercorn, granian) can import them by name, e.g. ``bench.apps:bare``.
"""

from __future__ import annotations

import functools
import io
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from quart import Quart, Response

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# --- the bare-Quart ceiling -----------------------------------------------------------------


def make_bare() -> Quart:
    app = Quart("bench_bare")

    async def accept() -> Response:
        from quart import request

        await request.get_data()
        return Response("", status=202)

    app.add_url_rule("/inbox", "shared", accept, methods=["POST"])
    app.add_url_rule("/users/<username>/inbox", "personal", accept, methods=["POST"])
    return app


bare = make_bare()


def fediverse() -> Any:
    """Our app, for servers that import a factory (granian --factory)."""
    from fediverse_ai.app import create_app
    from fediverse_ai.config import load_config

    config = load_config(Path(os.environ["BENCH_CONFIG"]))
    embedded = os.environ.get("BENCH_EMBEDDED_WORKER", "1") == "1"
    return create_app(config, embedded_worker=embedded)


# --- raw ASGI helpers -----------------------------------------------------------------------


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes = b"", ctype: str = "text/plain") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype.encode()), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# --- remote actors --------------------------------------------------------------------------


class RemoteActors:
    """``/users/uN`` documents from ``BENCH_ACTORS`` (a JSON file of {name: public PEM})
    at ``BENCH_REMOTE_SCHEME://BENCH_REMOTE_HOST`` (https unless told); POSTs to any inbox
    are recorded with their arrival time."""

    def __init__(self) -> None:
        self.host = os.environ.get("BENCH_REMOTE_HOST", "b.test")
        self.scheme = os.environ.get("BENCH_REMOTE_SCHEME", "https")
        path = os.environ.get("BENCH_ACTORS")
        self.keys: dict[str, str] = json.loads(Path(path).read_text()) if path else {}
        self.arrivals: list[dict[str, Any]] = []

    def actor(self, name: str) -> dict[str, Any]:
        base = f"{self.scheme}://{self.host}/users/{name}"
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": base,
            "type": "Person",
            "preferredUsername": name,
            "name": name,
            "summary": "",
            "url": f"{self.scheme}://{self.host}/@{name}",
            "inbox": f"{base}/inbox",
            "outbox": f"{base}/outbox",
            "followers": f"{base}/followers",
            "following": f"{base}/following",
            "endpoints": {"sharedInbox": f"{self.scheme}://{self.host}/inbox"},
            "published": "2020-01-01T00:00:00Z",
            "publicKey": {
                "id": f"{base}#main-key",
                "owner": base,
                "publicKeyPem": self.keys[name],
            },
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path: str = scope["path"]
        if scope["method"] == "POST":
            body = await _read_body(receive)
            try:
                doc = json.loads(body)
            except ValueError:
                doc = {}
            obj = doc.get("object") if isinstance(doc, dict) else None
            self.arrivals.append(
                {
                    "t": time.time(),
                    "path": path,
                    "type": doc.get("type") if isinstance(doc, dict) else None,
                    "in_reply_to": obj.get("inReplyTo") if isinstance(obj, dict) else None,
                }
            )
            await _answer(send, 202)
            return
        if path == "/__arrivals":
            await _answer(send, 200, json.dumps(self.arrivals).encode(), "application/json")
            return
        if path == "/__reset":
            self.arrivals.clear()
            await _answer(send, 200)
            return
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "users" and parts[1] in self.keys:
            body = json.dumps(self.actor(parts[1])).encode()
            await _answer(send, 200, body, "application/activity+json")
            return
        await _answer(send, 404)


remote = RemoteActors()


# --- fan-out sinks --------------------------------------------------------------------------


async def sink(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await _read_body(receive)
    await _answer(send, 202 if scope["method"] == "POST" else 200)


# --- a zero-latency OpenAI-compatible backend -----------------------------------------------

_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A short answer from the bench."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
    }
).encode()


def _article(size: int) -> bytes:
    """A news page of about ``size`` bytes: navigation, an article of distinct paragraphs,
    comments and a footer, the mix the AI's link reader is asked to take apart."""
    nav = "".join(f'<li><a href="/s/{i}">Section {i}</a></li>' for i in range(60))
    head = f"<html><head><title>Bench article</title></head><body><nav><ul>{nav}</ul></nav>"
    parts = [head, "<article><h1>A long read</h1>"]
    i = 0
    while sum(map(len, parts)) < size - 400:
        parts.append(
            f"<p>Paragraph {i}: the committee met on day {i % 28 + 1} and agreed on point "
            f"{i * 7 % 101}, after a debate on budgets, schools and the river bank.</p>"
        )
        i += 1
    parts.append("</article><footer>Copyright, privacy, cookies.</footer></body></html>")
    return "".join(parts).encode()


ARTICLE = _article(200_000)


@functools.cache
def picture() -> bytes:
    """A 1600x1200 JPEG of about 1 MB: a gradient under Gaussian noise, which JPEG cannot
    squeeze the way it squeezes a flat picture (a photo of that size weighs about as much)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(12)
    height, width = 1200, 1600
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 255 / (width + height)], -1)
    pixels = np.clip(base + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=91)
    return out.getvalue()


async def openai(scope: Scope, receive: Receive, send: Send) -> None:
    """The zero-latency backend; ``GET /article`` is a 200 KB page for the link benchmark,
    ``GET /picture/NAME.jpg`` a 1 MB JPEG (:func:`picture`) for the image one."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await _read_body(receive)
    if scope["path"].endswith("/chat/completions"):
        await _answer(send, 200, _COMPLETION, "application/json")
    elif scope["path"] == "/article":
        await _answer(send, 200, ARTICLE, "text/html; charset=utf-8")
    elif scope["path"].startswith("/picture/"):
        await _answer(send, 200, picture(), "image/jpeg")
    else:
        await _answer(send, 404)
