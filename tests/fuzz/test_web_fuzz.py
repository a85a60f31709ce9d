"""Fuzzing the web forms and pages (issue 13 item 2): every route in ``fuzz.routes``.

Given our server live on loopback with a user, an admin, posts (local and from a stand-in peer)
and a report, when a seeded generator sends thousands of requests to every route, anonymous
and logged in, with valid CSRF tokens for most, hostile field values, query parameters, and
uploads (real images, broken ones, a decompression bomb, wrong types), then no answer is a
5xx, the log holds no traceback, the jobs the forms queued end cleanly, the database (SQLite
or PostgreSQL) passes its checks, and the server still serves its front page and takes a
valid post.

``FUZZ_SEED``/``FUZZ_WEB_COUNT`` choose the run (``FUZZ_WEB_WARMUP``: how many inbox requests are
stored first), ``FUZZ_ONLY=<index>`` sends one request of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from client_api.support import user_token
from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server
from web.support import PASSWORD, csrf_of, make_user

from fediverse_ai.federation import publish
from fediverse_ai.models import Draft

from .harness import (
    Campaign,
    database_problems,
    header_bytes,
    job_figures,
    loopback_only,
    reason_of,
    run_requests,
    settings,
    verdict,
    watching_logs,
    write_results,
)
from .inbox_requests import inbox_sender, prepare
from .requests import FuzzRequest
from .web_requests import THROWAWAY_CSRF, WebRequests

RERUN = "python -m pytest tests/fuzz/test_web_fuzz.py"
# The AI's text backend is a port nothing listens on: drafting help and the admin's backend
# test take their error paths at once instead of loading a model.
CONFIG = """
[ai.text]
backend = "openai"
base_url = "http://127.0.0.1:1/v1"
api_key = "fuzz"
timeout_seconds = 2

[ai.moderation]
enabled = false

[web]
# Thousands of API calls on one token: counted (the limiter is fuzzed too), never refused,
# so that every route is reached.
api_requests_per_five_minutes = 1000000000
"""

pytestmark = pytest.mark.slow


async def _client(live: LiveServer, username: str | None) -> tuple[httpx.AsyncClient, str]:
    """A cookie-keeping client, logged in as ``username`` (or anonymous), and its CSRF token."""
    client = httpx.AsyncClient(base_url=live.base_url, timeout=30.0, trust_env=False)
    token = csrf_of((await client.get("/login")).text)
    if username is not None:
        answer = await client.post(
            "/login",
            data={"csrf": token, "username": username, "password": PASSWORD},
            headers={"Origin": live.base_url},
        )
        assert answer.status_code == 303, answer.text
        token = csrf_of((await client.get("/compose")).text)
    return client, token


async def _token_client(live: LiveServer) -> httpx.AsyncClient:
    """A client of the Mastodon API: no cookies, a bearer token got through the OAuth flow."""
    _, token = await user_token(live, "dave")
    return httpx.AsyncClient(
        base_url=live.base_url,
        timeout=30.0,
        trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
    )


async def _content(live: LiveServer, remote: RemoteFediverse) -> dict[str, tuple[str, ...]]:
    """Posts, a remote post, a report and follows to act on; their ids for the generator."""
    carol = await live.account("carol")
    for text in ("first post", "second post #art", "@ai hello"):
        await publish.publish_note(live.state, carol, Draft(text=text))
    await publish.publish_note(live.state, live.ai, Draft(text="the AI speaks"))
    note = remote.note("alice", f'<p><a href="{carol.actor.uri}">@carol</a> hi</p>')
    await remote.send(live.shared_inbox, remote.activity("alice", "Create", note, to=[PUBLIC]))
    flag = remote.activity("alice", "Flag", [live.ai.actor.uri], content="spam")
    await remote.send(live.shared_inbox, flag)
    follow = remote.activity("bob", "Follow", carol.actor.uri)
    await remote.send(live.shared_inbox, follow)
    await live.drain()
    db = live.state.db
    notes = await db.fetchall("SELECT id, uri, url FROM notes")
    return {
        "note": tuple(str(r["id"]) for r in notes),
        "note_ref": tuple(r["uri"] for r in notes) + tuple(r["url"] for r in notes if r["url"]),
        "status": tuple(r["uri"].rsplit("/", 1)[1] for r in notes),
        "actor": tuple(str(r["id"]) for r in await db.fetchall("SELECT id FROM actors")),
        "report": tuple(str(r["id"]) for r in await db.fetchall("SELECT id FROM reports")),
        "file": tuple(
            r["file_name"] or "" for r in await db.fetchall("SELECT file_name FROM media")
        ),
        "username": tuple(remote.handle(n) for n in ("alice", "h0", "h1", "h2")),
        "handle": (
            *(remote.handle(f"h{n}") for n in range(4)),
            *(remote.actor_uri(f"h{n}") for n in range(4)),
            remote.handle("alice"),
            f"@{remote.handle('bob')}",
            remote.actor_uri("alice"),
            note["id"],
            "carol",
            "@ai",
        ),
    }


async def _hostile_content(live: LiveServer, remote: RemoteFediverse, seed: int) -> list[str]:
    """Stored data as hostile as the inbox fuzzer makes it, for the pages to render: a short
    inbox campaign (its own failures count too), its jobs drained."""
    warmup = Campaign("web warm-up", seed, "python -m pytest tests/fuzz/test_inbox_fuzz.py")
    builder = await prepare(live, remote, seed)
    count = int(os.environ.get("FUZZ_WEB_WARMUP", "300"))
    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as client:
        await run_requests(warmup, range(count), builder.build, inbox_sender(client))
    await live.drain()
    return warmup.failures


@pytest.mark.timeout(600)
async def test_web_forms_survive_hostile_requests(tmp_path: Path) -> None:
    seed, _, only = settings(0)
    count = int(os.environ.get("FUZZ_WEB_COUNT", "4000"))
    campaign = Campaign("web", seed, RERUN)
    problems: list[str] = []
    with loopback_only() as refused, watching_logs() as log:
        async with (
            live_server(tmp_path / "ours", extra_toml=CONFIG) as live,
            remote_server() as remote,
        ):
            await make_user(live, "carol")
            await make_user(live, "root", admin=True)
            problems += await _hostile_content(live, remote, seed)
            extra = await _content(live, remote)
            clients: dict[str, httpx.AsyncClient] = {}
            tokens: dict[str, str] = {}
            try:
                for sender, username in (("anon", None), ("user", "carol"), ("admin", "root")):
                    clients[sender], tokens[sender] = await _client(live, username)
                clients["throwaway"], _ = await _client(live, None)
                clients["token"] = await _token_client(live)
                requests = WebRequests(seed, live.base_url, tokens, extra)

                async def send(request: FuzzRequest) -> tuple[int | str, str]:
                    client = clients[request.sender]
                    body = request.body
                    if THROWAWAY_CSRF.encode() in body:
                        token = csrf_of((await client.get("/login")).text)
                        body = body.replace(THROWAWAY_CSRF.encode(), token.encode())
                    response = await client.request(
                        request.method,
                        request.url,
                        content=body,
                        headers=header_bytes(request.headers),
                    )
                    return response.status_code, reason_of(response)

                indices = [only] if only is not None else range(count)
                await run_requests(campaign, indices, requests.build, send, concurrency=6)
                campaign.figures["jobs_run"] = await live.drain()
                jobs, unexpected = await job_figures(live)
                campaign.figures["jobs"] = jobs
                problems += [f"job failed unexpectedly: {e}" for e in unexpected]
                problems += [f"database: {p}" for p in await database_problems(live)]
                problems += await _still_serving(live, clients["user"], tokens["user"])
            finally:
                for client in clients.values():
                    await client.aclose()
        campaign.figures["tracebacks"] = len(log.crashes)
        campaign.figures["refused_names"] = sorted(set(refused))[:20]
        problems += [f"server log: {c}" for c in log.crashes]
    write_results(campaign)
    failure = verdict(campaign, problems)
    assert failure is None, failure


async def _still_serving(live: LiveServer, user: httpx.AsyncClient, token: str) -> list[str]:
    """The front page, and a plain post by the user, after the run."""
    problems = []
    front = await user.get("/")
    if front.status_code != 200:
        problems.append(f"the front page answered {front.status_code} after the run")
    posted = await user.post(
        "/compose",
        data={"csrf": token, "text": "still here", "visibility": "public"},
        headers={"Origin": live.base_url},
    )
    found = await live.count("SELECT COUNT(*) FROM notes WHERE content LIKE '%still here%'")
    if posted.status_code != 303 or found != 1:
        problems.append(f"a valid post after the run: {posted.status_code}, stored {found}")
    return problems
