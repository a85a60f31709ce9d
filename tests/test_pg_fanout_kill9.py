"""Two ``fediverse-ai worker`` processes on one PostgreSQL database, one of them killed with
``kill -9`` and restarted three times in the middle of a 20,000-inbox fan-out (issue 15).

Given a web process (``run --no-worker``) and two workers sharing a fresh schema of the
throw-away cluster, carol's 20,000 remote followers (rows written straight into the schema:
following 20,000 times over HTTP would take minutes here), each with a personal inbox on one
of four counting sinks (:class:`InboxSink`, on 127.0.0.1-4, every signature verified), and
mentions of the AI from a signed peer answered by a scripted OpenAI-compatible model: when
carol posts and the victim worker is killed after 10 %, 40 % and 70 % of the deliveries
reached the sinks (and restarted at once each time, as systemd would), then

* every one of the 20,000 inboxes received the Create: counted at the sinks by distinct
  (inbox, activity id), as receivers dedupe, it is exactly once everywhere, none missing;
* a raw receipt beyond the first comes only from a delivery the kill interrupted (sent in
  full, its success not yet recorded), so duplicates <= deliveries run twice <= what the
  killed worker held at its kills (at most ``[worker] concurrency`` each);
* every mention got exactly one answer, stored once and received once by the peer, although
  the first kill hit the victim in the middle of two generations;
* every job is done, none failed, none left locked (the leases are 5 s here, and a worker
  restarted on the same machine takes back its dead predecessor's jobs at once), and no
  live worker ever lost a lease to the other.

Run with ``-s`` to see the figures (BENCHMARKS.md, "Reliability").
"""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from ai.scripted import ScriptedChat
from support.keys import seed_key_file
from support.live import write_config
from support.postgres import Cluster
from support.remote import RemoteFediverse
from support.sinks import InboxSink
from test_processes_share_limits import _free_port, _spawn, _stop, _wait_served

from fediverse_ai.accounts import ensure_account, ensure_builtin_actors
from fediverse_ai.config import Config, load_config
from fediverse_ai.state import State, open_state

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

INBOXES = 20_000
SINK_HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
KILL_AT = (0.10, 0.40, 0.70)  # share of the inboxes reached when the victim is killed
DOWN_SECONDS = 0.5
CONCURRENCY = 8  # [worker] concurrency of each worker
LEASE_SECONDS = 5.0
MENTIONS_EARLY = 3  # sent before carol posts: the victim holds their generations at the first kill
MENTIONS_LATE = 3  # sent after the first kill, queued behind the fan-out
AI_CONCURRENCY = 2
SETTLE_TIMEOUT_S = 300.0
EXTRA_TOML = f"""
[worker]
concurrency = {CONCURRENCY}
poll_interval_seconds = 0.2
lease_seconds = {LEASE_SECONDS}

[retention]
interval_minutes = 0

[ai.limits]
per_account_per_hour = 1000
per_domain_per_hour = 1000
new_account_per_hour = 1000
concurrency = {AI_CONCURRENCY}
slot_lease_seconds = {LEASE_SECONDS}

[ai.moderation]
# Not what this test is about; its classifiers would load in every worker after every kill.
enabled = false

[ai.foryou]
enabled = false
"""


@dataclass
class Figures:
    """What the run measured; printed, and copied into BENCHMARKS.md."""

    inboxes: int = INBOXES
    received: int = 0  # distinct (inbox, Create id) at the sinks
    duplicates: int = 0  # raw receipts beyond the first
    lost: int = 0
    unverified: int = 0
    kills: int = 0
    held_at_kills: list[dict[str, int]] = field(default_factory=list)  # kind -> jobs, per kill
    # of the fan-out deliveries the victim held at its kills, those whose sink already had them
    held_received_at_kills: list[int] = field(default_factory=list)
    held_received_ms: list[int] = field(default_factory=list)  # median time since their arrival
    reached_at_kills: list[int] = field(default_factory=list)  # distinct inboxes reached
    kill_times: list[float] = field(default_factory=list)  # time.monotonic(), as Receipt.at
    deliveries_rerun: int = 0  # fan-out jobs claimed more than once
    mentions: int = 0
    answered_once: int = 0  # one reply note stored and one distinct reply at the peer
    reply_receipts: int = 0  # raw, at the peer
    generations: int = 0  # completion requests the scripted model got
    failed_jobs: int = 0
    lease_takeovers: int = 0  # "another worker took it over" in the workers' logs
    tracebacks: int = 0
    enqueue_s: float = 0.0  # the CLI's post, 20,000 deliveries queued
    fanout_s: float = 0.0  # first to last distinct receipt
    deliveries_per_s: float = 0.0  # over the whole fan-out
    per_s_before_kills: float = 0.0  # first receipt to the first kill: both workers up
    per_s_during_kills: float = 0.0  # first kill to the last one
    per_s_after_kills: float = 0.0  # last kill to the last receipt (the victim restarting)
    wall_s: float = 0.0

    def table(self) -> str:
        rows = [
            (k, f"{v:.1f}" if isinstance(v, float) else str(v))
            for k, v in vars(self).items()
            if k != "kill_times"
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name.ljust(width)}  {value}" for name, value in rows)


class Processes:
    """The web process and the two workers, each with its log; ``victim`` is the one killed."""

    def __init__(self, root: Path, config_path: Path) -> None:
        self.root = root
        self.cli = [sys.executable, "-m", "fediverse_ai", "--config", str(config_path)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        proc = _spawn([*self.cli, *args], self.root, self.log(name))
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.root.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.procs.values():
            _stop(proc)


def _worker_id_prefix(proc: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{proc.pid}:%"  # Worker.worker_id is host:pid:token


async def _held_by(state: State, proc: subprocess.Popen[bytes]) -> dict[str, int]:
    rows = await state.db.fetchall(
        "SELECT kind, COUNT(*) AS n FROM jobs WHERE state = 'running' AND locked_by LIKE ?"
        " GROUP BY kind",
        (_worker_id_prefix(proc),),
    )
    return {str(row["kind"]): int(row["n"]) for row in rows}


async def _held_and_received(
    state: State, proc: subprocess.Popen[bytes], sinks: list[InboxSink], note_uri: str, at: float
) -> list[float]:
    """For each delivery ``proc`` holds that had already reached its inbox, how long before
    ``at`` (its kill) it arrived, in seconds."""
    rows = await state.db.fetchall(
        "SELECT payload FROM jobs WHERE state = 'running' AND kind = 'deliver'"
        " AND locked_by LIKE ?",
        (_worker_id_prefix(proc),),
    )
    held = {urlsplit(json.loads(row["payload"])["inbox"]).path for row in rows}
    arrived = {r.inbox: r.at for s in sinks for r in s.received if r.object_id == note_uri}
    return [at - arrived[path] for path in held if path in arrived and arrived[path] <= at]


async def _until(check: Any, message: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.2)


async def _seed_followers(state: State, followee_id: int, inboxes: list[str]) -> None:
    now = time.time()
    await state.db.executemany(
        "INSERT INTO actors (uri, local, username, domain, inbox, published)"
        " VALUES (?, 0, ?, ?, ?, ?)",
        [
            (inbox.removesuffix("/inbox"), f"f{i}", inbox.split("/")[2], inbox, now)
            for i, inbox in enumerate(inboxes)
        ],
    )
    await state.db.execute(
        "INSERT INTO follows (follower_id, followee_id, state, created_at)"
        " SELECT id, ?, 'accepted', ? FROM actors WHERE local = 0 AND username LIKE 'f%'",
        (followee_id, now),
    )


@pytest.fixture
def chat() -> Iterator[ScriptedChat]:
    with ScriptedChat(["A lighthouse guides ships."]) as server:
        yield server


async def test_fanout_to_20000_inboxes_survives_three_kill9s_of_one_of_two_workers(
    tmp_path: Path, pg_cluster: Cluster, chat: ScriptedChat
) -> None:
    started = time.monotonic()
    figures = Figures()
    port = _free_port()
    config_path = write_config(
        tmp_path,
        port,
        database=pg_cluster.url(pg_cluster.new_schema()),
        extra_toml=EXTRA_TOML
        + f'\n[ai.text]\nbackend = "openai"\nbase_url = "{chat.base_url}/v1"\n'
        'model = "scripted"\ntimeout_seconds = 120.0\n',
    )
    config: Config = load_config(config_path)
    keys = config.storage.keys_dir
    seed_key_file(keys, f"{config.instance.host}.pem", "ours:instance")
    seed_key_file(keys, f"{config.ai.username}.pem", "ours:ai")
    seed_key_file(keys, "carol.pem", "ours:carol")
    procs = Processes(tmp_path, config_path)
    with ExitStack() as cleanup:
        cleanup.callback(procs.stop_all)
        async with AsyncExitStack() as stack, open_state(config) as state:
            sinks = [InboxSink(host=host) for host in SINK_HOSTS]
            peer = RemoteFediverse(["alice", "bob"])
            for server in (*sinks, peer):
                await server.start()
                stack.push_async_callback(server.stop)
            _, ai = await ensure_builtin_actors(state)
            carol = await ensure_account(state, "carol", role="user")
            inboxes = [sinks[i % len(sinks)].inbox(f"f{i}") for i in range(INBOXES)]
            await _seed_followers(state, carol.actor.id, inboxes)

            web = procs.start("web", "run", "--no-worker")
            await asyncio.to_thread(_wait_served, web, config.instance.base_url, procs.log("web"))
            for sink in sinks:
                await sink.learn_key(carol.actor.uri)

            # Given the victim alone running, holding the first mentions' generations (the
            # model answers only once the gate opens)
            chat.gate = threading.Event()
            chat.gate_timeout = SETTLE_TIMEOUT_S  # opened by the test after the second kill
            victim = procs.start("victim", "worker")
            mentions: list[str] = []

            async def mention(n: int) -> None:
                who = ("alice", "bob")[n % 2]
                handle = f"@{ai.actor.username}@{config.instance.host}"
                note, create = peer.mention(who, ai.actor, handle, f"question {n}: lighthouses?")
                answer = await peer.send(ai.actor.inbox, create)
                assert answer.status_code == 202, answer.text
                mentions.append(str(note["id"]))

            for n in range(MENTIONS_EARLY):
                await mention(n)

            async def generating() -> bool:
                held = await _held_by(state, victim)
                return held.get("ai_reply", 0) == AI_CONCURRENCY

            await _until(generating, f"no generation started\n{procs.logs()}", 60)
            # and the other worker beside it
            procs.start("other", "worker")

            # When carol posts to her 20,000 followers
            posted = time.monotonic()
            out = await asyncio.to_thread(
                subprocess.run, [*procs.cli, "post", "--as", "carol", "To all 20,000"],
                cwd=tmp_path, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert out.returncode == 0, out.stdout + out.stderr
            figures.enqueue_s = time.monotonic() - posted
            note_uri = await state.db.fetchval(
                "SELECT uri FROM notes WHERE actor_id = ? AND local = 1", (carol.actor.id,)
            )

            def reached() -> int:
                return len({r.inbox for s in sinks for r in s.received if r.object_id == note_uri})

            # and the victim is killed with SIGKILL three times mid-fan-out, restarted each time
            for n, share in enumerate(KILL_AT):
                while reached() < share * INBOXES:
                    assert time.monotonic() - posted < SETTLE_TIMEOUT_S, procs.logs()[-5000:]
                    await asyncio.sleep(0.05)
                victim.send_signal(signal.SIGKILL)
                figures.kill_times.append(time.monotonic())
                await asyncio.to_thread(victim.wait)
                figures.kills += 1
                figures.reached_at_kills.append(reached())
                figures.held_at_kills.append(await _held_by(state, victim))
                ages = await _held_and_received(
                    state, victim, sinks, str(note_uri), figures.kill_times[-1]
                )
                figures.held_received_at_kills.append(len(ages))
                figures.held_received_ms.append(round(1000 * statistics.median(ages or [0.0])))
                if n == 0:
                    for m in range(MENTIONS_EARLY, MENTIONS_EARLY + MENTIONS_LATE):
                        await mention(m)
                if n == 1:
                    chat.gate.set()
                await asyncio.sleep(DOWN_SECONDS)
                victim = procs.start("victim", "worker")

            # Then, once the queue has drained
            async def settled() -> bool:
                busy = await state.db.fetchval(
                    "SELECT COUNT(*) FROM jobs WHERE state = 'running'"
                    " OR (state = 'pending' AND run_after <= ?)",
                    (time.time(),),
                )
                return reached() >= INBOXES and busy == 0 and _answers(peer, mentions) is not None

            try:
                await _until(settled, "the queue never drained", SETTLE_TIMEOUT_S)
            finally:
                await _report(figures, state, sinks, peer, procs, str(note_uri), mentions, chat)
                figures.wall_s = time.monotonic() - started
                print("\n" + figures.table())

            # every inbox received the Create, exactly once after the receivers' dedupe
            assert figures.received == INBOXES and figures.lost == 0
            assert figures.unverified == 0 and all(s.errors == [] for s in sinks)
            # a raw duplicate only where a kill interrupted a delivery
            held = sum(h.get("deliver", 0) for h in figures.held_at_kills)
            assert figures.duplicates <= figures.deliveries_rerun <= held
            assert held <= figures.kills * CONCURRENCY
            # every mention answered exactly once, although generations were killed
            assert figures.held_at_kills[0].get("ai_reply") == AI_CONCURRENCY
            assert figures.answered_once == figures.mentions == MENTIONS_EARLY + MENTIONS_LATE
            # nothing failed, nothing left locked, no live worker lost a lease
            assert figures.failed_jobs == 0
            running = await state.db.fetchval("SELECT COUNT(*) FROM jobs WHERE state = 'running'")
            assert running == 0
            assert figures.lease_takeovers == 0 and figures.tracebacks == 0, procs.logs()[-5000:]
            assert figures.kills == len(KILL_AT)


def _answers(peer: RemoteFediverse, mentions: list[str]) -> dict[str, int] | None:
    """Distinct replies received by the peer per mention, once every mention has one."""
    seen: dict[str, set[str]] = collections.defaultdict(set)
    for receipt in peer.posts(type="Create"):
        obj = (receipt.activity or {}).get("object")
        target = obj.get("inReplyTo") if isinstance(obj, dict) else None
        if isinstance(target, str) and receipt.activity:
            seen[target].add(str(receipt.activity["id"]))
    if any(not seen[m] for m in mentions):
        return None
    return {m: len(seen[m]) for m in mentions}


def _rate(times: list[float], start: float, end: float) -> float:
    """Receipts per second between two moments."""
    return sum(1 for t in times if start <= t <= end) / max(end - start, 1e-9)


async def _report(
    figures: Figures,
    state: State,
    sinks: list[InboxSink],
    peer: RemoteFediverse,
    procs: Processes,
    note_uri: str,
    mentions: list[str],
    chat: ScriptedChat,
) -> None:
    """Fill in the figures from the sinks, the peer, the database and the logs."""
    creates = [r for s in sinks for r in s.received if r.object_id == note_uri]
    figures.received = len({(r.inbox, r.activity_id) for r in creates})
    figures.duplicates = len(creates) - figures.received
    figures.lost = INBOXES - figures.received
    figures.unverified = sum(len(s.unverified()) for s in sinks)
    if creates:
        times = sorted(r.at for r in creates)
        figures.fanout_s = times[-1] - times[0]
        figures.deliveries_per_s = len(creates) / max(figures.fanout_s, 1e-9)
        if figures.kill_times:
            first, last = figures.kill_times[0], figures.kill_times[-1]
            figures.per_s_before_kills = _rate(times, times[0], first)
            figures.per_s_during_kills = _rate(times, first, last)
            figures.per_s_after_kills = _rate(times, last, times[-1])
    figures.deliveries_rerun = int(
        await state.db.fetchval(
            # Attempts beyond the first, not jobs: a job two kills interrupted ran three times.
            "SELECT COALESCE(SUM(attempts - 1), 0) FROM jobs WHERE kind = 'deliver'"
            " AND payload NOT LIKE ?",
            (f"%{peer.base_url}%",),
        )
        or 0
    )
    figures.mentions = len(mentions)
    answers = _answers(peer, mentions) or {}
    for mention in mentions:
        stored = await state.db.fetchval(
            "SELECT COUNT(*) FROM notes WHERE in_reply_to_uri = ?", (mention,)
        )
        if stored == 1 and answers.get(mention) == 1:
            figures.answered_once += 1
    figures.reply_receipts = sum(
        1 for r in peer.posts(type="Create") if isinstance((r.activity or {}).get("object"), dict)
    )
    figures.generations = len(chat.requests)
    figures.failed_jobs = int(
        await state.db.fetchval("SELECT COUNT(*) FROM jobs WHERE state = 'failed'") or 0
    )
    logs = procs.logs()
    figures.lease_takeovers = logs.count("another worker took")
    figures.tracebacks = logs.count("Traceback (most recent call last)")
