"""Retention purges on a real SQLite file, with rows of every kind at various ages.

What the inbox stores is produced by real deliveries from the stand-in peer, so the purge is
checked against the rows our inbox really writes (and against the Undo that needs them).
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.live import LiveServer, live_server
from support.remote import RemoteFediverse, remote_server
from support.stores import config_database, connect, query, suite_database

from fediverse_ai import maintenance
from fediverse_ai.config import ConfigError, RetentionConfig, parse_config
from fediverse_ai.federation import publish
from fediverse_ai.models import Draft
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import retention
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.store import open_store
from fediverse_ai.worker import Worker

DAY = 86400.0
NOW = 1_700_000_000.0
POLICY = RetentionConfig()  # 14 days of activities, 1 of done jobs, 30 of failed, 90 of tombstones
NOTHING = dict.fromkeys(retention.NAMES, 0)


async def column(db: Database, sql: str, params: tuple[Any, ...] = ()) -> set[Any]:
    return {r[0] for r in await db.fetchall(sql, params)}


# --- through the real inbox -------------------------------------------------------------------


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, RemoteFediverse]]:
    async with remote_server(("alice",)) as remote, live_server(tmp_path / "ours") as live:
        yield live, remote


async def deliver(live: LiveServer, remote: RemoteFediverse, activity: dict[str, Any]) -> None:
    response = await remote.send(live.shared_inbox, activity)
    assert response.status_code == 202, response.text
    await live.drain()


async def test_old_activities_go_unless_an_undo_or_a_retry_still_needs_them(
    world: tuple[LiveServer, RemoteFediverse],
) -> None:
    """Given activities our inbox stored and processed, when they are older than
    ``activities_days``, then they go, except a Follow and a Like that are still in place and
    an activity whose processing is still queued; an Undo that names the Follow only by id
    still works afterwards."""
    live, remote = world
    db = live.state.db
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    await deliver(live, remote, follow)
    note = await publish.publish_note(live.state, live.ai, Draft(text="hello"))
    like = remote.activity("alice", "Like", note.uri)
    await deliver(live, remote, like)
    unknown_like = remote.activity("alice", "Like", f"{live.base_url}/users/ai/statuses/404")
    await deliver(live, remote, unknown_like)
    create = remote.activity("alice", "Create", remote.note("alice", "<p>hi</p>"))
    await deliver(live, remote, create)
    queued = remote.activity("alice", "Create", remote.note("alice", "<p>later</p>"))
    assert (await remote.send(live.shared_inbox, queued)).status_code == 202  # not processed
    done_jobs = await column(db, "SELECT id FROM jobs WHERE state = 'done'")
    assert done_jobs  # inbox processing, the Accept, the note's delivery

    later = time.time() + 15 * DAY
    counted = await retention.purge(db, POLICY, now=later, dry_run=True)
    removed = await retention.purge(db, POLICY, now=later)

    assert counted == removed
    assert removed == {**NOTHING, "activities": 2, "jobs (done)": len(done_jobs)}
    assert await column(db, "SELECT uri FROM activities") == {
        follow["id"],
        like["id"],
        queued["id"],
    }
    assert await column(db, "SELECT state FROM jobs") == {"pending"}  # the queued Create's

    await deliver(live, remote, remote.activity("alice", "Undo", follow["id"]))
    assert await db.fetchval("SELECT COUNT(*) FROM follows") == 0  # found the stored Follow
    removed = await retention.purge(db, POLICY, now=later)
    # The Follow has no effect left; the Undo is old too, and so is the queued Create, which
    # that drain processed (with the For-you embedding its note queued). The Like is still in place.
    assert (removed["activities"], removed["jobs (done)"]) == (3, 3)
    assert await column(db, "SELECT uri FROM activities") == {like["id"]}
    assert await retention.purge(db, POLICY, now=later) == NOTHING


# --- rows of each kind at various ages ---------------------------------------------------------


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_store(suite_database(tmp_path / "site.sqlite3")) as database:
        await database.migrate()
        yield database


def seed(conn: sqlite3.Connection) -> None:
    """Two of everything: one just past its retention, one just inside it."""
    ago = lambda days: NOW - days * DAY  # noqa: E731
    for n, name in ((1, "bob"), (2, "carol")):
        conn.execute(
            "INSERT INTO actors (id, uri, local, username, domain, published)"
            " VALUES (?, ?, 1, ?, 'here.test', ?)",
            (n, f"https://here.test/users/{name}", name, NOW),
        )
    conn.execute(
        "INSERT INTO accounts (actor_id, role, key_file, created_at) VALUES (1, 'user', 'k', ?)",
        (NOW,),
    )
    jobs = [
        ("old-done", "done", ago(1.5), ago(1.1)),
        ("new-done", "done", ago(0.9), ago(0.5)),
        ("done-late", "done", ago(3), ago(0.2)),  # due long ago, finished recently: kept
        ("old-failed", "failed", ago(31), ago(30.5)),
        ("new-failed", "failed", ago(29), ago(29)),
        ("old-pending", "pending", ago(100), ago(100)),  # never purged, however old
        ("old-running", "running", ago(100), ago(100)),
        ("inbox:https://there.test/a/failed", "failed", ago(15), ago(15)),
    ]
    for key, state, run_after, updated in jobs:
        conn.execute(
            "INSERT INTO jobs (kind, payload, state, run_after, dedupe_key, created_at,"
            " updated_at) VALUES ('k', '{}', ?, ?, ?, ?, ?)",
            (state, run_after, key, run_after, updated),
        )
    activities = [
        ("https://there.test/a/old", "Create", 15),
        ("https://there.test/a/new", "Create", 13),  # stored out of order: still kept
        ("https://there.test/a/follow", "Follow", 15),  # the follow is in place: kept
        ("https://there.test/a/block", "Block", 15),  # the block too
        ("https://there.test/a/gone-follow", "Follow", 15),  # undone since: goes
        ("https://there.test/a/failed", "Create", 15),  # its processing failed: kept for a retry
    ]
    for uri, kind, days in activities:
        conn.execute(
            "INSERT INTO activities (uri, type, actor_uri, raw_json, received_at)"
            " VALUES (?, ?, 'https://there.test/u', '{}', ?)",
            (uri, kind, ago(days)),
        )
    conn.execute(
        "INSERT INTO follows (uri, follower_id, followee_id, state, created_at)"
        " VALUES ('https://there.test/a/follow', 2, 1, 'accepted', ?)",
        (NOW,),
    )
    conn.execute(
        "INSERT INTO blocks (uri, actor_id, target_id, created_at)"
        " VALUES ('https://there.test/a/block', 2, 1, ?)",
        (NOW,),
    )
    for uri, days in (("https://there.test/n/old", 91), ("https://there.test/n/new", 89)):
        conn.execute(
            "INSERT INTO tombstones (uri, actor_uri, deleted_at) VALUES (?, 'x', ?)",
            (uri, ago(days)),
        )
    for token, expires in (("expired", NOW - 1), ("valid", NOW + DAY)):
        conn.execute(
            "INSERT INTO sessions (token_hash, actor_id, csrf_token, created_at, expires_at)"
            " VALUES (?, 1, 'c', ?, ?)",
            (token, ago(30), expires),
        )
    for key, days in (("login:addr:1", 1.5), ("login:addr:2", 0.5)):
        conn.execute(
            "INSERT INTO rate_buckets (key, tokens, updated_at) VALUES (?, 0, ?)", (key, ago(days))
        )


async def test_each_table_keeps_what_is_inside_its_retention(db: Database) -> None:
    await db.transaction(seed)

    counted = await retention.purge(db, POLICY, now=NOW, dry_run=True)
    assert await db.fetchval("SELECT COUNT(*) FROM tombstones") == 2  # a dry run removes nothing
    removed = await retention.purge(db, POLICY, now=NOW)

    assert (
        removed
        == counted
        == {
            **NOTHING,  # the shared limits' tables: test_shared_limits.py
            "activities": 2,
            "jobs (done)": 1,
            "jobs (failed)": 1,
            "tombstones": 1,
            "sessions": 1,
            "rate_buckets": 1,
        }
    )
    assert await column(db, "SELECT dedupe_key FROM jobs") == {
        "new-done",
        "done-late",
        "new-failed",
        "old-pending",
        "old-running",
        "inbox:https://there.test/a/failed",
    }
    assert await column(db, "SELECT uri FROM activities") == {
        "https://there.test/a/new",
        "https://there.test/a/follow",
        "https://there.test/a/block",
        "https://there.test/a/failed",
    }
    assert await column(db, "SELECT uri FROM tombstones") == {"https://there.test/n/new"}
    assert await column(db, "SELECT token_hash FROM sessions") == {"valid"}
    assert await column(db, "SELECT key FROM rate_buckets") == {"login:addr:2"}
    assert await retention.purge(db, POLICY, now=NOW) == NOTHING  # twice is harmless


async def test_zero_days_keeps_rows_forever(db: Database) -> None:
    await db.transaction(seed)
    forever = RetentionConfig(
        activities_days=0, done_jobs_days=0, failed_jobs_days=0, tombstones_days=0
    )
    removed = await retention.purge(db, forever, now=NOW + 1000 * DAY)
    # expired sessions and idle buckets are not history: they always go
    assert removed == {**NOTHING, "sessions": 2, "rate_buckets": 2}


async def test_many_activities_go_in_batches_and_two_purges_at_once_share_the_work(
    db: Database,
) -> None:
    bulk = 3 * retention.BATCH

    def many(conn: sqlite3.Connection) -> None:
        seed(conn)
        conn.executemany(
            "INSERT INTO activities (uri, type, actor_uri, raw_json, received_at)"
            " VALUES (?, 'Create', 'https://there.test/u', '{}', ?)",
            [(f"https://there.test/bulk/{i}", NOW - 20 * DAY + i) for i in range(bulk)],
        )
        # Every hundredth still waits to be processed: kept.
        conn.executemany(
            "INSERT INTO jobs (kind, payload, run_after, dedupe_key, created_at, updated_at)"
            " VALUES ('inbox', '{}', 0, ?, 0, 0)",
            [(f"inbox:https://there.test/bulk/{i}",) for i in range(0, bulk, 100)],
        )
        # Gaps in the ids, as earlier purges leave them.
        conn.execute("DELETE FROM activities WHERE uri LIKE 'https://there.test/bulk/7__'")

    await db.transaction(many)
    expected = await retention.purge(db, POLICY, now=NOW, dry_run=True)
    kept = bulk // 100 - 1  # bulk/700 went with the gap
    assert expected["activities"] == 2 + (bulk - 100) - kept
    # A second process on the same store (its URL on PostgreSQL, as its path on SQLite).
    async with open_store(getattr(db, "url", db.path)) as other:
        first, second = await asyncio.gather(
            retention.purge(db, POLICY, now=NOW), retention.purge(other, POLICY, now=NOW)
        )
    assert {k: first[k] + second[k] for k in retention.NAMES} == expected
    remaining = await db.fetchval("SELECT COUNT(*) FROM activities WHERE uri LIKE '%/bulk/%'")
    assert remaining == kept


# --- from the worker, as a durable job --------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_every_worker_offers_the_purge_and_it_runs_once_per_period(tmp_path: Path) -> None:
    raw = {
        "instance": {"domain": "localhost:8123", "scheme": "http"},
        "storage": {
            "database": suite_database("data/db.sqlite3"),
            "media_dir": "media",
            "keys_dir": "keys",
        },
        "worker": {"concurrency": 1, "poll_interval_seconds": 0.02},
    }
    config = parse_config(raw, base_dir=tmp_path)
    clock = Clock(NOW)
    handlers = {maintenance.PURGE: maintenance.purge}

    async def purge_jobs(state: State) -> list[str]:
        return [r[0] for r in await state.db.fetchall("SELECT state FROM jobs")]

    async with open_state(config, clock=clock) as one, open_state(config, clock=clock) as two:
        await one.db.transaction(seed)
        await one.db.execute("DELETE FROM jobs")
        stop = asyncio.Event()
        tasks = [asyncio.create_task(Worker(s, handlers).run(stop)) for s in (one, two)]
        try:
            for _ in range(250):
                if await purge_jobs(one) == ["done"]:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # the second worker has offered it too by now
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        assert await purge_jobs(one) == ["done"]
        assert await column(one.db, "SELECT uri FROM tombstones") == {"https://there.test/n/new"}
        assert not await maintenance.offer_purge(two)  # this period's purge exists
        clock.now += 3600
        assert await maintenance.offer_purge(two)  # the next period's does not


# --- config and the command line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"activities_days": 3}, "retention.activities_days: 0 (keep forever) or at least 7"),
        ({"tombstones_days": 6}, "retention.tombstones_days: 0 (keep forever) or at least 7"),
        ({"done_jobs_days": -1}, "retention.done_jobs_days: 0 (keep forever) or at least 1"),
        ({"interval_minutes": -5}, "retention.interval_minutes: 0 (only `fediverse-ai purge`)"),
    ],
)
def test_retention_config_is_validated(tmp_path: Path, table: dict[str, int], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"retention": table}, base_dir=tmp_path)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_activities_must_outlive_the_signature_window(tmp_path: Path) -> None:
    raw = {
        "retention": {"activities_days": 7},
        "federation": {"signature_max_skew_seconds": 8 * 86400},
    }
    with pytest.raises(ConfigError, match="replayed request"):
        parse_config(raw, base_dir=tmp_path)
    assert parse_config({"retention": {"activities_days": 0}}, base_dir=tmp_path)


CONFIG = """\
[instance]
domain = "localhost:8123"
scheme = "http"

[storage]
database = "data/site.sqlite3"
media_dir = "data/media"
keys_dir = "secrets"
"""


def purge_cli(config: Path, *args: str) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "fediverse_ai",
            "--config",
            str(config),
            "purge",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=config.parent,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_purge_command_prints_what_it_removed_per_table(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    url = suite_database("data/site.sqlite3")
    config.write_text(CONFIG.replace('"data/site.sqlite3"', f'"{url}"'), encoding="utf-8")
    assert purge_cli(config) == [f"{name}\t0" for name in retention.NAMES]  # creates the db
    database = config_database(config)
    old = time.time() - 100 * DAY
    with connect(database) as conn:
        conn.execute("INSERT INTO tombstones VALUES ('https://there.test/n/1', 'x', ?)", (old,))
        conn.execute("INSERT INTO tombstones VALUES ('https://there.test/n/2', 'x', ?)", (old,))
        conn.execute(
            "INSERT INTO rate_buckets (key, tokens, updated_at) VALUES ('login:addr:1', 0, ?)",
            (old,),
        )

    dry = purge_cli(config, "--dry-run")
    assert dry[-1] == "dry run: nothing was removed"
    assert "tombstones\t2" in dry and "rate_buckets\t1" in dry
    out = purge_cli(config)
    assert "tombstones\t2" in out and "rate_buckets\t1" in out and "activities\t0" in out
    assert query(database, "SELECT COUNT(*) FROM tombstones") == [(0,)]
    assert purge_cli(config) == [f"{name}\t0" for name in retention.NAMES]
