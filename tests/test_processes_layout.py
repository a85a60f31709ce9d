"""The multi-process layout README documents (issue 15), end to end: one PostgreSQL database,
media in one S3 bucket, two web-only ``fediverse-ai run --no-worker`` processes (one config
file, only the port differs) and two ``fediverse-ai worker`` processes.

Everything is checked over HTTP, as a browser, an app or a peer sees it. The two web
processes are driven on their own ports, alternately, as a load balancer would spread the
requests: requests for the instance's URLs go to process 1, whose port is in the domain. A
real nginx upstream adds nothing these checks could see (its X-Forwarded-* handling is
tested by tests/e2e/), and would tie this test to port 443 and /etc/hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_api.support import hidden_fields, user_token
from client_api.test_api_streaming import Ws
from client_api.test_api_uploads import bearer, jpeg_with_exif, upload
from support.keys import seed_key_file
from support.live import AS2_ACCEPT, write_config
from support.postgres import Cluster
from support.remote import PUBLIC, ReceivedPost, RemoteFediverse
from support.s3 import new_bucket, store_toml
from test_processes_share_limits import LOGIN_ATTEMPTS, _free_port, _spawn, _stop, _wait_served
from web.support import PASSWORD

from fediverse_ai.config import load_config
from fediverse_ai.storage.store import open_store

pytestmark = pytest.mark.slow

Json = dict[str, Any]
GUESSER = "192.0.2.7"
QUIET_S = 3.0  # with no job left to run, this long without a new POST: nothing more comes
# The offline SmolLM2 answers on CPU: on 2 busy cores a mention takes up to a few minutes.
ANSWER_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class Layout:
    """The instance (``base``: its URL, served by web process 1), both web processes'
    addresses, and every process's log."""

    base: str
    webs: tuple[str, str]
    logs: tuple[Path, ...]
    database: str

    def logged(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs)


def _configs(root: Path, database: str, media: str) -> tuple[Path, Path, int, int]:
    port_1, port_2 = _free_port(), _free_port()
    extra = media + "\n[worker]\npoll_interval_seconds = 0.1\n"
    # Open sign-ups, active at once: the user signs up through the web form.
    instance = "open_registrations = true\napproval_required = false\n"
    path_1 = write_config(root, port_1, extra_toml=extra, instance_toml=instance, database=database)
    # Behind the documented nginx front: the client's address is its X-Forwarded-For.
    text = path_1.read_text().replace("embedded_worker", "trusted_proxy = true\nembedded_worker")
    path_1.write_text(text)
    path_2 = root / "config-2.toml"
    path_2.write_text(text.replace(f"listen_port = {port_1}", f"listen_port = {port_2}"))
    return path_1, path_2, port_1, port_2


@contextlib.contextmanager
def layout(root: Path, database: str, media: str) -> Iterator[Layout]:
    path_1, path_2, port_1, port_2 = _configs(root, database, media)
    config = load_config(path_1)
    seed_key_file(config.storage.keys_dir, f"{config.instance.host}.pem", "ours:instance")
    seed_key_file(config.storage.keys_dir, f"{config.ai.username}.pem", "ours:ai")
    webs = (f"http://127.0.0.1:{port_1}", f"http://127.0.0.1:{port_2}")
    logs = tuple(root / f"{name}.log" for name in ("web-1", "web-2", "worker-1", "worker-2"))
    argvs = [
        [path_1, "run", "--no-worker"],
        [path_2, "run", "--no-worker"],
        [path_1, "worker"],
        [path_1, "worker"],
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for (path, *args), log in zip(argvs, logs, strict=True):
            argv = [sys.executable, "-m", "fediverse_ai", "--config", str(path), *args]
            procs.append(_spawn(argv, root, log))
            if len(procs) <= len(webs):
                # One after the other: the first runs the migrations the rest find done.
                _wait_served(procs[-1], webs[len(procs) - 1], log)
        yield Layout(config.instance.base_url, webs, logs, database)
    finally:
        for proc in procs:
            _stop(proc)


@pytest.fixture
def site(tmp_path: Path, pg_cluster: Cluster, s3_endpoint: str) -> Iterator[Layout]:
    bucket = new_bucket(s3_endpoint)
    database = pg_cluster.url(pg_cluster.new_schema())
    with layout(tmp_path, database, store_toml(bucket, s3_endpoint)) as running:
        yield running


async def until(check: Callable[[], object], message: Callable[[], str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message()
        await asyncio.sleep(0.1)


async def sign_up(web: str, origin: str, username: str) -> httpx.AsyncClient:
    """A browser that signed up as ``username`` on ``web``; the caller closes it."""
    browser = httpx.AsyncClient(base_url=web, timeout=20)
    page = await browser.get("/signup")
    assert page.status_code == 200, page.text[:500]
    form = {
        **hidden_fields(page.text),
        "username": username,
        "email": f"{username}@example.test",
        "reason": "",
        "password": PASSWORD,
        "again": PASSWORD,
    }
    done = await browser.post("/signup", data=form, headers={"Origin": origin})
    assert done.status_code == 303 and done.headers["location"] == "/home", done.text[:500]
    return browser


async def sessions_and_media(site: Layout) -> None:
    one, two = site.webs
    browser = await sign_up(one, site.base, "carol")
    try:
        # The session cookie process 1 set opens the home page on process 2.
        browser.base_url = httpx.URL(two)
        home = await browser.get("/home")
        assert home.status_code == 200 and "carol" in home.text, home.text[:500]
    finally:
        await browser.aclose()
    # A token from the OAuth flow on process 1 is good on process 2.
    _, token = await user_token(LiveServerAt(one), "carol", new_user=False)
    async with httpx.AsyncClient(base_url=two, timeout=20) as http:
        me = await http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
        assert me.status_code == 200 and me.json()["username"] == "carol", me.text
        uploaded = await upload(http, token, jpeg_with_exif((64, 48)), description="red")
        assert uploaded.status_code == 200, uploaded.text
        media = uploaded.json()
    # Uploaded through process 2 (into the bucket), served through process 1.
    assert media["url"].startswith(site.base + "/"), media
    async with httpx.AsyncClient(base_url=one, timeout=20) as http:
        picture = await http.get(media["url"].removeprefix(site.base))
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert picture.content.startswith(b"\xff\xd8")


@dataclass(frozen=True)
class LiveServerAt:
    """What the OAuth flow of client_api/support needs of a server: its address."""

    base_url: str


async def streaming_across(site: Layout) -> None:
    one, two = site.webs
    _, token = await user_token(LiveServerAt(one), "carol", new_user=False)
    stream = await Ws.open(LiveServerAt(one), f"?stream=user&access_token={token}")
    try:
        async with httpx.AsyncClient(base_url=two, timeout=20) as http:
            posted = await http.post(
                "/api/v1/statuses", data={"status": "through process 2"}, headers=bearer(token)
            )
        assert posted.status_code == 200, posted.text
        (frame,) = await stream.frames(1, timeout=30)
        assert frame["event"] == "update", frame
        assert json.loads(frame["payload"])["id"] == posted.json()["id"]
    finally:
        await stream.close()


async def login_limit(site: Layout) -> None:
    # One guesser's address (as nginx forwards it), not the test's own, which the logins
    # above already counted against.
    async with (
        httpx.AsyncClient(base_url=site.webs[0], timeout=20) as one,
        httpx.AsyncClient(base_url=site.webs[1], timeout=20) as two,
    ):
        statuses = [
            (await _failed_login(one if n % 2 else two, site.base, "dave")).status_code
            for n in range(LOGIN_ATTEMPTS)
        ]
        assert statuses == [401] * LOGIN_ATTEMPTS
        for either in (one, two):
            refused = await _failed_login(either, site.base, "dave")
            assert refused.status_code == 429 and "too many login attempts" in refused.text


async def _failed_login(client: httpx.AsyncClient, origin: str, username: str) -> httpx.Response:
    page = await client.get("/login")
    form = {**hidden_fields(page.text), "username": username, "password": "guess"}
    headers = {"Origin": origin, "X-Forwarded-For": GUESSER}
    return await client.post("/login", data=form, headers=headers)


def _mention(remote: RemoteFediverse, ai_uri: str, text: str) -> tuple[Json, Json]:
    handle = f"@ai@{httpx.URL(ai_uri).netloc.decode()}"
    note = remote.note(
        "alice",
        f'<p><a href="{ai_uri}" class="u-url mention">@ai</a> {text}</p>',
        cc=(ai_uri,),
        tag=[{"type": "Mention", "href": ai_uri, "name": handle}],
    )
    return note, remote.activity("alice", "Create", note, to=[PUBLIC], cc=[ai_uri])


def _replies_to(remote: RemoteFediverse, note_id: str) -> list[ReceivedPost]:
    return [
        p
        for p in remote.posts(type="Create")
        if p.activity is not None and p.activity["object"].get("inReplyTo") == note_id
    ]


async def deliver(site: Layout, remote: RemoteFediverse, web: str, activity: Json) -> None:
    """POST ``activity`` to the AI's inbox on process ``web``, signed for the instance's URL,
    with the Host header nginx passes on (``proxy_set_header Host $host``)."""
    body = json.dumps(activity).encode()
    headers = remote.signed_headers(f"{site.base}/users/ai/inbox", body)
    headers["Host"] = httpx.URL(site.base).netloc.decode()
    sent = await remote.post_raw(f"{web}/users/ai/inbox", body, headers)
    assert sent.status_code == 202, sent.text


async def federation(site: Layout, remote: RemoteFediverse) -> None:
    one, two = site.webs
    ai_uri = f"{site.base}/users/ai"
    # A Follow, delivered twice (the peer retried through the other process): one Accept.
    follow = remote.activity("alice", "Follow", ai_uri)
    for web in (two, one):
        await deliver(site, remote, web, follow)
    # Two mentions, one arriving on each process; the first delivered to both.
    first_note, first = _mention(remote, ai_uri, "why is the sky blue?")
    second_note, second = _mention(remote, ai_uri, "why is grass green?")
    for web, activity in ((one, first), (two, first), (two, second)):
        await deliver(site, remote, web, activity)
    try:
        await until(
            lambda: (
                remote.posts(type="Accept")
                and _replies_to(remote, first_note["id"])
                and _replies_to(remote, second_note["id"])
            ),
            lambda: "no Accept or answer reached the peer",
            timeout=ANSWER_TIMEOUT_S,
        )
    except AssertionError as exc:
        got = [(p.type, p.path, p.verified) for p in remote.received]
        raise AssertionError(
            f"{exc}\npeer got {got}\n{await _jobs(site)}\n{site.logged()}"
        ) from None
    await _settled(site, remote)
    accepts = remote.posts(type="Accept")
    assert len(accepts) == 1 and accepts[0].verified, accepts
    for note in (first_note, second_note):
        [answer] = _replies_to(remote, note["id"])
        assert answer.verified and answer.signer == ai_uri, answer.error
    async with httpx.AsyncClient(timeout=20) as http:
        page = await http.get(ai_uri, headers={"Accept": AS2_ACCEPT})
    assert page.status_code == 200


async def _jobs(site: Layout) -> str:
    async with open_store(site.database) as db:
        rows = await db.fetchall("SELECT kind, state, attempts, last_error FROM jobs")
    return "\n".join(str(tuple(r)) for r in rows)


async def _settled(site: Layout, remote: RemoteFediverse) -> None:
    """Until the workers have no job left and the peer got nothing new for QUIET_S."""
    async with open_store(site.database) as db:
        while True:
            seen = len(remote.received)
            await asyncio.sleep(QUIET_S)
            left = await db.fetchval(
                "SELECT COUNT(*) FROM jobs WHERE state IN ('pending', 'running') AND run_after < ?",
                (time.time() + 60,),
            )
            if not left and len(remote.received) == seen:
                return


async def test_two_web_processes_and_two_workers_serve_one_instance(
    site: Layout, remote: RemoteFediverse
) -> None:
    await sessions_and_media(site)
    await streaming_across(site)
    await login_limit(site)
    await federation(site, remote)
    for log in site.logs:
        assert "Traceback" not in log.read_text(errors="replace"), site.logged()
