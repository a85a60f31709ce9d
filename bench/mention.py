"""Benchmark 3: mention → reply overhead with a zero-latency text backend.

``fediverse-ai run`` (as shipped, behind the TLS front) has ``[ai.text] backend = "openai"``
pointed at :func:`bench.apps.openai`, which answers at once; moderation stays on (the
default). Signed mentions of ``@ai@a.test`` from distinct remote actors are POSTed in
waves of 1, 10 and 100 at once; the overhead of one mention is the time from its POST
until the AI's reply reaches the author's inbox at ``b.test`` (both clocks are this
machine's). A first mention warms the process up (model files, caches) and is not counted.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.network import ROUTE_PROBE_PATH

from . import serve
from .common import free_port, percentile, pick, start_server, table, write_result
from .instance import Instance
from .load import create_note, signed_headers
from .net import Net, fast_server

AI = "https://a.test/users/ai"
LIMITS = """
[ai.text]
backend = "openai"
base_url = "http://127.0.0.1:{port}/v1"
api_key = "bench"
model = "bench"
vision = true

[ai.limits]
per_account_per_hour = 100000
per_domain_per_hour = 100000
new_account_per_hour = 100000
daily_budget = 100000
"""


async def _wave(
    net: Net,
    client: httpx.AsyncClient,
    size: int,
    run: str,
    text: str = "what is 2+2?",
    in_reply_to: str | None = None,
) -> list[float]:
    names = sorted(net.keys.private)
    prepared = []
    for i in range(size):
        name = names[i % len(names)]
        actor = net.keys.actor_uri(name)
        doc = create_note(actor, i, run=run, mention=AI, text=text)
        if in_reply_to is not None:
            doc["object"]["inReplyTo"] = in_reply_to
        body = json.dumps(doc).encode()
        headers = signed_headers(
            "https://a.test/inbox",
            body,
            key_id=f"{actor}#main-key",
            private_pem=net.keys.private[name],
        )
        prepared.append((doc["object"]["id"], body, headers))
    await client.get("https://b.test/__reset")
    # Open the wave's connections first (nginx answers its probe path itself): remote servers
    # each come on their own connection, and the TLS handshakes of this Python client are the
    # load generator's cost, not the server's (they spread a wave of 10 over 40 ms).
    await asyncio.gather(*(client.get(f"https://a.test{ROUTE_PROBE_PATH}") for _ in range(size)))
    sent: dict[str, float] = {}

    async def post(note_id: str, body: bytes, headers: dict[str, str]) -> None:
        sent[note_id] = time.time()
        response = await client.post("https://a.test/inbox", content=body, headers=headers)
        if response.status_code != 202:
            raise RuntimeError(f"mention refused: {response.status_code} {response.text}")

    await asyncio.gather(*(post(*p) for p in prepared))
    deadline = time.monotonic() + 120
    while True:
        arrivals = (await client.get("https://b.test/__arrivals")).json()
        replies = {
            a["in_reply_to"]: a["t"]
            for a in arrivals
            if a["type"] == "Create" and a["in_reply_to"] in sent
        }
        if len(replies) >= size:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(replies)}/{size} replies after 120 s")
        await asyncio.sleep(0.01)
    return [(replies[n] - sent[n]) * 1000 for n in sent]


async def _send(net: Net, client: httpx.AsyncClient, name: str, doc: dict[str, Any]) -> None:
    body = json.dumps(doc).encode()
    headers = signed_headers(
        "https://a.test/inbox",
        body,
        key_id=f"{net.keys.actor_uri(name)}#main-key",
        private_pem=net.keys.private[name],
    )
    response = await client.post("https://a.test/inbox", content=body, headers=headers)
    response.raise_for_status()


async def _introduce(net: Net, client: httpx.AsyncClient) -> None:
    """One plain note from every remote actor first, so that every wave mentions as known
    authors (as the single mentions do): a first contact adds a signed fetch of the author's
    actor document, which is the intake benchmark's business, not the answer's."""
    run = f"hello-{uuid.uuid4().hex[:6]}"
    for name in sorted(net.keys.private):
        await _send(
            net, client, name, create_note(net.keys.actor_uri(name), 0, run=f"{run}-{name}")
        )
    await asyncio.sleep(1.0)  # 50 notes are processed in well under a second


async def _levels(
    net: Net, levels: list[tuple[int, int]], cpu: Callable[[], float], page: str
) -> list[dict[str, Any]]:
    ctx = ssl.create_default_context(cafile=str(net.tls.files.bundle))
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    rows = []
    async with httpx.AsyncClient(verify=ctx, timeout=60, limits=limits, trust_env=False) as client:
        await _wave(net, client, 1, f"warm-{uuid.uuid4().hex[:6]}")
        await _introduce(net, client)
        for size, waves in levels:
            times: list[float] = []
            cpu_before, wall_before = cpu(), time.monotonic()
            for w in range(waves):
                times += await _wave(net, client, size, f"{size}-{w}-{uuid.uuid4().hex[:6]}")
            rows.append(
                {
                    "concurrent": size,
                    "mentions": len(times),
                    "p50 ms": percentile(times, 50),
                    "p99 ms": percentile(times, 99),
                    "max ms": max(times),
                    # Server CPU per mention, and the share of the wall time it was busy: near
                    # 1.0 with 2 cores means the mentions wait for the CPU, not for each other.
                    "server cpu ms/mention": (cpu() - cpu_before) * 1000 / len(times),
                    "server busy": (cpu() - cpu_before) / (time.monotonic() - wall_before),
                }
            )
            print(f"  {size} at once: p50 {rows[-1]['p50 ms']:.0f} ms", flush=True)
        rows.append(await _with_link(net, client, page, rows[0]))
        rows.append(await _with_picture(net, client, page.removesuffix("/article"), rows[0]))
    return rows


async def _with_link(
    net: Net, client: httpx.AsyncClient, page: str, plain: dict[str, Any]
) -> dict[str, Any]:
    """Single mentions that ask about a 200 KB page: the reader's fetch and extraction are the
    difference from the plain single mentions of the same run."""
    times: list[float] = []
    for w in range(pick(20, 8)):
        run = f"link-{w}-{uuid.uuid4().hex[:6]}"
        times += await _wave(net, client, 1, run, text=f"summarise {page} please")
    return _single("1, 200 KB link", "link", times, plain)


async def _with_picture(
    net: Net, client: httpx.AsyncClient, backend: str, plain: dict[str, Any]
) -> dict[str, Any]:
    """Single mentions under a post with a 1 MB JPEG, asking what it shows, the backend seeing
    images: reading the picture, decoding, fitting it within 1024 pixels, re-encoding it and
    sending it as a data URL are the difference from the plain single mentions. The post comes
    a second before the mention, as a post comes before its replies: the media cache has
    fetched the picture by then, as it does for every post's pictures."""
    name = sorted(net.keys.private)[0]  # the author of the single mentions: their own picture
    times: list[float] = []
    for w in range(pick(20, 8)):
        run = f"picture-{w}-{uuid.uuid4().hex[:6]}"
        post = create_note(net.keys.actor_uri(name), 0, run=f"{run}-post")
        post["object"]["attachment"] = [
            {"type": "Image", "mediaType": "image/jpeg", "url": f"{backend}/picture/{run}.jpg"}
        ]
        await _send(net, client, name, post)
        await asyncio.sleep(1.0)
        parent = post["object"]["id"]
        times += await _wave(net, client, 1, run, "what is in this picture?", in_reply_to=parent)
    return _single("1, 1 MB picture", "picture", times, plain)


def _single(label: str, what: str, times: list[float], plain: dict[str, Any]) -> dict[str, Any]:
    """A row of single mentions, with its p50's difference from the plain ones' (its cost)."""
    p50 = percentile(times, 50)
    print(f"  {label}: p50 {p50:.0f} ms", flush=True)
    return {
        "concurrent": label,
        "mentions": len(times),
        "p50 ms": p50,
        "p99 ms": percentile(times, 99),
        "max ms": max(times),
        f"{what} overhead p50 ms": p50 - plain["p50 ms"],
        "ratio to plain p50": p50 / plain["p50 ms"],
    }


def run(net: Net) -> dict[str, Any]:
    port = free_port()
    server = fast_server()
    backend = start_server(
        "openai-zero", serve.command(server, "bench.apps:openai", port), serve.env_for(server), port
    )
    inst = Instance("mention", "run", extra_config=LIMITS.format(port=port), env=net.ssl_env)
    try:
        inst.init()
        inst.start()
        net.route(inst.port)
        levels = [(1, pick(10, 5)), (10, pick(3, 1)), (100, 1)]
        page = f"http://127.0.0.1:{port}/article"
        rows = asyncio.run(_levels(net, levels, inst.cpu_seconds, page))
        rss = inst.rss_mb()
    finally:
        inst.stop()
        backend.stop()
    for row in rows:
        if row["concurrent"] == 10:
            row["target met"] = row["p50 ms"] < 50 and row["p99 ms"] < 250
    print(table("Mention -> reply overhead (zero-latency backend)", rows))
    data = {"rows": rows, "rss_after_mb": rss}
    write_result("mention", data)
    return data
