"""Crash safety under load (issue 13 item 3): 20 ``kill -9`` of the server in a mixed load.

One instance (``fediverse-ai run`` behind the harness's nginx at https://a.test) receives signed
inbox bursts from two stand-in peers (Creates, Creates mentioning the AI, Likes, Follows), fans
two posts of carol's out to 5,000 follower inboxes on two counting sinks (real HTTP, every
signature verified), and answers the mentions through a real llama.cpp server; meanwhile it is
killed with SIGKILL and restarted 20 times at seeded random moments
(``FEDIVERSE_AI_CRASH_SEED`` repeats a run). When the queue has drained:

* every activity answered 202 was processed exactly once: one note per Create, one like per
  Like, one follower per Follow and one Accept for it, ``processed_at`` set;
* every mention got exactly one AI reply, at the peer too;
* every delivery reached its inbox, in order per inbox; a delivery sent again because the
  kill came between the sink's 202 and the server recording it counts as a duplicate. The
  sinks dedupe by activity id as receivers do, so both figures are known: duplicates are
  reported and bounded (only deliveries a kill interrupted, at most one per worker loop and
  kill), lost deliveries must be none.

Run with ``-s`` to see the figures (BENCHMARKS.md, "Reliability").
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass

import pytest
from ai.servers import RunningServer, tiny_text_backend_toml
from support.remote import RemoteFediverse
from support.sinks import InboxSink
from support.stores import sqlite_only

from .crash_load import Figures, InboxLoad, Sent, seed_followers
from .harness import Instance
from .network import TLSNetwork
from .peers import PEER_HOSTS, peer_ports, until
from .test_federation_e2e import db_rows, post

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

KILLS = 20
UP_SECONDS = (0.4, 2.5)  # how long the server runs between two kills
DOWN_SECONDS = (0.0, 0.6)  # how long it stays dead
FANOUT_INBOXES = 5_000
SINKS = 2
FANOUT_AT_KILLS = (0, KILLS // 2)  # carol posts just before these kills
USERS_PER_PEER = 6
CREATES, MENTIONS = 40, 24
# [worker] concurrency. Each loop holds one job at a time in the database (a finished job is
# recorded done in the transaction that claims the next), so a kill leaves at most this many
# deliveries to send again.
WORKER_LOOPS = 8
DRAIN_TIMEOUT_SECONDS = 300.0  # PostgreSQL's worker costs twice SQLite's CPU per delivery


@dataclass
class Site:
    instance: Instance
    tls: TLSNetwork
    ports: dict[str, int]


@pytest.fixture(scope="module")
def site(
    tls_network: TLSNetwork, tmp_path_factory: pytest.TempPathFactory, llama_server: RunningServer
) -> Iterator[Site]:
    """a.test, initialised with carol (the poster), dave (whose posts are liked) and erin
    (followed), not yet running: the test seeds carol's followers first."""
    a = Instance(
        name="Instance A",
        domain="a.test",
        root=tmp_path_factory.mktemp("e2e-crash"),
        tls=tls_network.files,
        extra_toml=tiny_text_backend_toml(llama_server)
        + """
[ai.limits]
per_account_per_hour = 1000
per_domain_per_hour = 1000
new_account_per_hour = 1000

[ai.moderation]
# Moderation is not what this test is about; its classifiers would load again after every kill.
enabled = false
""",
    )
    ports = peer_ports()
    with ExitStack() as cleanup:
        cleanup.callback(tls_network.set_routes, {})
        cleanup.callback(a.close)
        tls_network.set_routes({a.domain: a.port, **ports})
        a.cli("init")
        for name in ("carol", "dave", "erin"):
            a.cli("user", "add", name)
        yield Site(a, tls_network, ports)


# Known on PostgreSQL (issue 15, next step): a delivery queued while another process ends the
# delivery ahead of it in its inbox's queue is not made due by that end (neither transaction sees
# the other), so it waits out its parking (an hour) before it goes: 21 of 10,000 missed the
# drain. Queuing and a queue's end must be serialised per queue first.
@sqlite_only("on PostgreSQL a delivery parked behind a concurrently ended one waits an hour")
async def test_mixed_load_survives_20_kill9s_exactly_once(site: Site) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("FEDIVERSE_AI_CRASH_SEED") or random.randrange(2**32))
    print(f"\ncrash test seed: {seed} (FEDIVERSE_AI_CRASH_SEED={seed} repeats the schedule)")
    figures = Figures(seed=seed)
    a = site.instance
    like_targets = [post(a, "dave", f"dave's post {i}") for i in range(2)]
    async with AsyncExitStack() as stack:
        sinks = [InboxSink(ca_bundle=site.tls.files.bundle) for _ in range(SINKS)]
        peers = []
        for n, host in enumerate(PEER_HOSTS):
            users = [f"{'pq'[n]}{i}" for i in range(USERS_PER_PEER)]
            peer = RemoteFediverse(
                users, public_base=f"https://{host}", ca_bundle=site.tls.files.bundle
            )
            peer.port = site.ports[host]
            peers.append(peer)
        servers: list[InboxSink | RemoteFediverse] = [*sinks, *peers]
        for server in servers:
            await server.start()
            stack.push_async_callback(server.stop)
        inboxes = [sinks[i % SINKS].inbox(f"f{i}") for i in range(FANOUT_INBOXES)]
        seed_followers(a.database, a.actor_url("carol"), inboxes, now=time.time())
        await asyncio.to_thread(a.start, init=False)
        for sink in sinks:
            await sink.learn_key(a.actor_url("carol"))

        # Given a plan of inbox traffic, and when it is sent while the server is killed 20 times
        load = InboxLoad(f"{a.base_url}/inbox", random.Random(seed + 1), figures)
        load.plan(
            peers,
            ai_uri=a.actor_url("ai"),
            like_targets=like_targets,
            follow_targets=[a.actor_url("erin")],
            creates=CREATES,
            mentions=MENTIONS,
        )
        posts: list[str] = []
        chaos = asyncio.create_task(kill_and_restart(a, random.Random(seed), figures, posts))
        while not chaos.done():
            await load.burst(load.rng.randint(2, 6))
            await asyncio.sleep(load.rng.uniform(0.05, 0.4))
        await chaos
        figures.load_s = time.monotonic() - started

        # Then, with the server up, the peers' last retries are accepted and the queue drains
        drained = time.monotonic()
        while load.waiting and time.monotonic() - drained < DRAIN_TIMEOUT_SECONDS:
            await load.burst(8)
            await asyncio.sleep(0.1 if load.waiting else 0)
        figures.deliveries_expected = len(posts) * len(inboxes)

        def settled() -> bool:
            received = sum(len(s.counts()) for s in sinks)
            busy = db_rows(a, "SELECT id FROM jobs WHERE state IN ('pending', 'running')")
            return received >= figures.deliveries_expected and not busy

        try:
            await until(settled, timeout=DRAIN_TIMEOUT_SECONDS, message="the queue never drained")
        finally:
            figures.drain_s = time.monotonic() - drained
            figures.wall_s = time.monotonic() - started
            report(a, load, sinks, peers, posts, figures)
            print(figures.table())

        # nginx answers 502 while the server is down; the server itself never fails a request
        assert set(figures.answers) <= {"202", "502"}, figures.answers
        # every activity answered 202 processed exactly once
        assert figures.processed_once == len(load.all), problems(a, load, peers)
        # every mention answered once
        assert figures.ai_replies == figures.mentions
        assert figures.ai_failures == 0
        # no job crashed or gave up
        assert figures.failed_jobs == 0
        assert figures.tracebacks == 0, a.log_tail(200)
        # every delivery received; none lost, each inbox's in order
        assert figures.deliveries_lost == 0
        for sink in sinks:
            assert sink.errors == [] and sink.unverified() == []
            for path, got in sink.by_inbox().items():
                firsts = list(dict.fromkeys(r.activity_id for r in got))
                assert firsts == [f"{p}/activity" for p in posts], path
        assert figures.accepts_duplicated == 0
        # At least once: only what was in flight at a kill may arrive twice.
        assert figures.deliveries_duplicated <= figures.deliveries_rerun
        assert figures.deliveries_rerun <= figures.kills * WORKER_LOOPS
        assert figures.kills == KILLS


async def kill_and_restart(
    a: Instance, rng: random.Random, figures: Figures, posts: list[str]
) -> None:
    """KILLS times: run a while, SIGKILL, stay dead a while, start again. carol posts to her
    5,000 followers just before the kills named in FANOUT_AT_KILLS."""
    for n in range(KILLS):
        if n in FANOUT_AT_KILLS:
            posts.append(await asyncio.to_thread(post, a, "carol", f"to all 5,000 ({n})"))
        await asyncio.sleep(rng.uniform(*UP_SECONDS))
        await asyncio.to_thread(a.kill9)
        figures.kills += 1
        figures.kill_times.append(time.monotonic())
        await asyncio.sleep(rng.uniform(*DOWN_SECONDS))
        await asyncio.to_thread(a.start, init=False)


def report(
    a: Instance,
    load: InboxLoad,
    sinks: list[InboxSink],
    peers: list[RemoteFediverse],
    posts: list[str],
    figures: Figures,
) -> None:
    """Fill in the figures from the server's database, the sinks and the peers."""
    figures.processed_once = len(load.all) - len(problems(a, load, peers))
    mentions = load.of_kind("mention")
    figures.mentions = len(mentions)
    replies = collections.Counter[str]()
    raw_replies = collections.Counter[str]()
    for peer in peers:
        seen = set()
        for receipt in peer.posts(type="Create"):
            obj = (receipt.activity or {}).get("object")
            target = obj.get("inReplyTo") if isinstance(obj, dict) else None
            if isinstance(target, str):
                raw_replies[target] += 1
                if receipt.activity and receipt.activity["id"] not in seen:
                    seen.add(receipt.activity["id"])
                    replies[target] += 1
    figures.ai_replies = sum(
        1
        for sent in mentions
        if replies[sent.object_id] == 1
        and len(db_rows(a, "SELECT id FROM notes WHERE in_reply_to_uri = ?", (sent.object_id,)))
        == 1
    )
    figures.ai_reply_duplicates = sum(
        raw_replies[s.object_id] - 1 for s in mentions if replies[s.object_id]
    )
    want = {f"{p}/activity" for p in posts}
    got = [(key, n) for s in sinks for key, n in s.counts().items() if key[1] in want]
    figures.deliveries_received = len(got)
    figures.deliveries_duplicated = sum(n - 1 for _, n in got)
    figures.deliveries_lost = figures.deliveries_expected - len(got)
    arrivals = sorted(r.at for s in sinks for r in s.received)
    figures.kills_mid_fanout = sum(
        1 for t in figures.kill_times if any(t - 0.25 <= at <= t for at in arrivals)
    )
    # Attempts beyond the first, not jobs: a delivery two kills interrupted after its sink got it
    # arrives three times (two duplicates) from one job (153 duplicates against 152 jobs, once).
    figures.deliveries_rerun = sum(
        int(row["attempts"]) - 1
        for row in db_rows(a, "SELECT attempts FROM jobs WHERE kind = 'deliver' AND attempts > 1")
    )
    states = db_rows(a, "SELECT mention_uri, state FROM ai_replies")
    done = {row["mention_uri"] for row in states if row["state"] == "done"}
    figures.ai_failures = sum(1 for sent in mentions if sent.object_id not in done)
    figures.failed_jobs = len(db_rows(a, "SELECT id FROM jobs WHERE state = 'failed'"))
    log = a.log_path.read_text(errors="replace")
    figures.tracebacks = log.count("Traceback (most recent call last)")
    figures.accepts_duplicated = sum(
        max(0, len(accepts_of(peers, sent.id)) - 1) for sent in load.of_kind("follow")
    )


def accepts_of(peers: list[RemoteFediverse], follow_id: str) -> set[str]:
    """The distinct Accepts our server sent for a Follow."""
    found = set()
    for peer in peers:
        for receipt in peer.posts(type="Accept"):
            obj = (receipt.activity or {}).get("object")
            if isinstance(obj, dict) and obj.get("id") == follow_id and receipt.activity:
                found.add(str(receipt.activity["id"]))
    return found


def problems(a: Instance, load: InboxLoad, peers: list[RemoteFediverse]) -> list[str]:
    """Every activity not processed exactly once, with what is wrong with it."""
    found = []
    for sent in load.all:
        rows = db_rows(a, "SELECT processed_at, error FROM activities WHERE uri = ?", (sent.id,))
        if not sent.accepted:
            found.append(f"{sent.id}: never accepted ({sent.answers})")
        elif len(rows) != 1 or rows[0]["processed_at"] is None or rows[0]["error"]:
            found.append(f"{sent.id} ({sent.kind}): activity rows {rows}")
        elif (effects := count_effects(a, sent, peers)) != 1:
            found.append(f"{sent.id} ({sent.kind}): {effects} effects")
    return found


def count_effects(a: Instance, sent: Sent, peers: list[RemoteFediverse]) -> int:
    actor = str(sent.activity["actor"])
    if sent.kind in ("create", "mention"):
        return len(db_rows(a, "SELECT id FROM notes WHERE uri = ?", (sent.object_id,)))
    if sent.kind == "like":
        sql = (
            "SELECT r.id FROM reactions r JOIN actors p ON p.id = r.actor_id"
            " JOIN notes n ON n.id = r.note_id WHERE p.uri = ? AND n.uri = ? AND r.kind = 'like'"
        )
        return len(db_rows(a, sql, (actor, sent.object_id)))
    sql = (
        "SELECT f.id FROM follows f JOIN actors p ON p.id = f.follower_id"
        " JOIN actors t ON t.id = f.followee_id WHERE p.uri = ? AND t.uri = ?"
        " AND f.state = 'accepted'"
    )
    followers = len(db_rows(a, sql, (actor, sent.object_id)))
    return followers if len(accepts_of(peers, sent.id)) >= 1 else 0
