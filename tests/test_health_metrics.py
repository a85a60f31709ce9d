"""/healthz and /metrics on a real server whose worker runs inside it, as `fediverse-ai run`
serves them; the log lines of an AI answer and of a failed delivery.

Given our server with its embedded worker and a remote peer, when the peer follows the AI,
asks it for a picture, sends a forged activity, and then goes down while we deliver to it,
then /metrics reports each of those, /healthz says the database and worker are alive, and
each answer and failed delivery is one log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.live import bind_loopback, serve_asgi, write_config
from support.remote import PUBLIC, RemoteFediverse
from support.stores import writes_held

from fediverse_ai.accounts import ensure_builtin_actors
from fediverse_ai.app import create_app
from fediverse_ai.config import Config, load_config
from fediverse_ai.federation.publish import publish_note
from fediverse_ai.models import Account, Draft
from fediverse_ai.state import open_state
from fediverse_ai.web import health

TOKEN = "s3cret-metrics-token-0123"
AI_TOML = """
[ai.image]
backend = "procedural"
width = 64
height = 64

[ai.moderation]
enabled = false

[worker]
poll_interval_seconds = 0.2
"""


@dataclass
class Embedded:
    config: Config
    base_url: str
    ai: Account


@contextlib.asynccontextmanager
async def embedded(directory: Path, metrics_toml: str = "") -> AsyncIterator[Embedded]:
    """Our server with its worker inside, on a free loopback port; stopped on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = bind_loopback()
    try:
        port = sock.getsockname()[1]
        config = load_config(write_config(directory, port, extra_toml=AI_TOML + metrics_toml))
        async with open_state(config) as state:  # what `fediverse-ai init` does
            _, ai = await ensure_builtin_actors(state)
        async with serve_asgi(create_app(config, embedded_worker=True), sock):
            yield Embedded(config, config.instance.base_url, ai)
    finally:
        sock.close()


async def wait_for(check: object, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


async def test_metrics_count_inbox_answers_deliveries_and_log_each(
    tmp_path: Path, remote: RemoteFediverse, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    metrics_toml = '\n[metrics]\nenabled = true\nallowed_ips = ["127.0.0.0/8"]\n'
    async with embedded(tmp_path / "ours", metrics_toml) as ours, httpx.AsyncClient() as http:
        health_doc = (await http.get(f"{ours.base_url}/healthz")).json()
        assert health_doc == {"status": "ok", "database": "ok", "worker": "ok"}
        ai = ours.ai.actor
        inbox = f"{ours.base_url}/inbox"
        assert (await remote.send(inbox, remote.activity("alice", "Follow", ai.uri))).is_success
        refused = await remote.post_raw(
            inbox, b'{"type": "Like"}', {"Content-Type": "application/activity+json"}
        )
        assert refused.status_code in (400, 401)
        note = remote.note(
            "alice",
            f'<p><a href="{ai.url}" class="u-url mention">@ai</a> draw a red lighthouse</p>',
            to=(PUBLIC,),
            cc=(ai.uri,),
            tag=[{"type": "Mention", "href": ai.uri, "name": f"@ai@{ours.config.instance.host}"}],
        )
        create = remote.activity("alice", "Create", note, to=[PUBLIC], cc=[ai.uri])
        assert (await remote.send(inbox, create)).status_code == 202

        async def answered() -> bool:
            return any(
                (p.activity or {}).get("object", {}).get("inReplyTo") == note["id"]
                for p in remote.posts(type="Create")
            )

        await wait_for(answered)
        await remote.stop()  # the peer goes down: the next delivery fails
        async with open_state(ours.config) as cli_state:  # as `fediverse-ai post` would
            await publish_note(cli_state, ours.ai, Draft(text="while alice is down"))

        async def delivery_failed() -> bool:
            text = (await http.get(f"{ours.base_url}/metrics")).text
            return samples(text).get('fediverse_ai_deliveries_total{result="failed"}', 0) >= 1

        await wait_for(delivery_failed)
        response = await http.get(f"{ours.base_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    assert "# TYPE fediverse_ai_deliveries_total counter" in text
    assert "# TYPE fediverse_ai_ai_answer_seconds histogram" in text
    got = samples(text)
    assert got['fediverse_ai_inbox_total{result="accepted"}'] >= 2  # the Follow and the mention
    refusals = {k: v for k, v in got.items() if k.startswith("fediverse_ai_inbox_total")}
    assert any('result="accepted"' not in k for k in refusals), refusals
    assert got['fediverse_ai_deliveries_total{result="sent"}'] >= 2  # the Accept and the answer
    assert got['fediverse_ai_ai_answers{outcome="done"}'] == 1
    assert got['fediverse_ai_ai_answer_seconds_count{outcome="done"}'] == 1
    assert got['fediverse_ai_ai_answer_seconds_bucket{outcome="done",le="+Inf"}'] == 1
    assert got["fediverse_ai_ai_budget_left"] == 500 - 1
    assert got['fediverse_ai_jobs{kind="deliver",state="pending"}'] >= 1  # the retry
    assert got["fediverse_ai_worker_heartbeat_age_seconds"] >= 0

    lines = [r.getMessage() for r in caplog.records]
    [answer] = [m for m in lines if m.startswith("AI answer ")]
    assert f"mention={note['id']} state=done backend=procedural ms=" in answer
    failures = [r for r in caplog.records if r.getMessage().startswith("delivery to ")]
    assert failures and failures[0].levelno == logging.WARNING
    host = f"127.0.0.1:{remote.port}"
    assert (
        f"delivery to {host} failed: status=- attempt=1 next_retry=20" in failures[0].getMessage()
    )


@pytest.mark.parametrize(
    ("metrics_toml", "headers", "status"),
    [
        ("", {}, 404),  # off by default
        ('[metrics]\nenabled = true\nallowed_ips = ["10.0.0.0/8"]\n', {}, 404),
        (f'[metrics]\nenabled = true\nbearer_token = "{TOKEN}"\n', {}, 404),
        (
            f'[metrics]\nenabled = true\nbearer_token = "{TOKEN}"\n',
            {"Authorization": "Bearer wrong-token-wrong-token"},
            404,
        ),
        (
            f'[metrics]\nenabled = true\nbearer_token = "{TOKEN}"\n',
            {"Authorization": f"Bearer {TOKEN}"},
            200,
        ),
        ("[metrics]\nenabled = true\n", {}, 200),  # loopback is allowed by default
    ],
    ids=["disabled", "address-not-allowed", "no-token", "wrong-token", "token", "loopback"],
)
async def test_metrics_are_restricted_by_config(
    tmp_path: Path, metrics_toml: str, headers: dict[str, str], status: int
) -> None:
    async with embedded(tmp_path / "ours", metrics_toml) as ours, httpx.AsyncClient() as http:
        response = await http.get(f"{ours.base_url}/metrics", headers=headers)
    assert response.status_code == status
    if status == 404:
        assert "fediverse_ai" not in response.text  # nothing says a page is there


async def test_healthz_is_503_while_the_worker_is_stuck(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pinned low so that the test does not wait out the production 90 s.
    monkeypatch.setattr(health, "WORKER_STALE_SECONDS", 0.0)
    async with embedded(tmp_path / "ours") as ours, httpx.AsyncClient() as http:
        url = f"{ours.base_url}/healthz"
        assert (await http.get(url)).json()["worker"] == "ok"
        # Another process holds the write lock (a stuck CLI command): every claim waits.
        with writes_held(ours.config.storage.database):
            await asyncio.sleep(1.5)  # more than 3 poll intervals without a beat
            stuck = await http.get(url)
        assert stuck.status_code == 503
        assert stuck.json() == {"status": "unhealthy", "database": "ok", "worker": "stale"}

        async def recovered() -> bool:
            return (await http.get(url)).status_code == 200

        await wait_for(recovered)


async def test_healthz_without_an_embedded_worker_is_ok_and_says_so(tmp_path: Path) -> None:
    sock = bind_loopback()
    try:
        config = load_config(write_config(tmp_path, sock.getsockname()[1]))
        async with serve_asgi(create_app(config), sock), httpx.AsyncClient() as http:
            response = await http.get(f"{config.instance.base_url}/healthz")
    finally:
        sock.close()
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker": "not running"}
    assert response.headers["cache-control"] == "no-store"
