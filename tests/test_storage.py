"""The store on a real SQLite file and on PostgreSQL (the ``store`` fixture): migrations,
connections, serialised writes, jobs, notes, follows. SQLite's pragmas and locking: SQLite only."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fediverse_ai.as2_in import IncomingNote, RemoteActorDoc
from fediverse_ai.config import parse_config
from fediverse_ai.federation import remote_notes
from fediverse_ai.models import Actor
from fediverse_ai.state import open_state
from fediverse_ai.storage import actors, follows, jobs, notes
from fediverse_ai.storage.db import Database, _migrations
from fediverse_ai.storage.notes import NoteRow
from fediverse_ai.storage.store import open_store
from fediverse_ai.urls import Urls
from fediverse_ai.vocab import PUBLIC

T0 = 1_700_000_000.0
LEASE = 3600.0  # longer than any test's clock moves, unless a test is about leases
LATEST = max(number for number, _ in _migrations())


@pytest.fixture
async def db(store: Path | str) -> AsyncIterator[Database]:
    async with open_store(store) as database:
        await database.migrate()
        yield database


@pytest.fixture
def sqlite_only(store: Path | str) -> None:
    """For what only SQLite has (pragmas, WAL, its file lock)."""
    if not isinstance(store, Path):
        pytest.skip("SQLite only")


async def remote_actor(
    db: Database, name: str, *, host: str = "remote.example", shared: bool = True
) -> Actor:
    uri = f"https://{host}/users/{name}"
    doc = RemoteActorDoc(
        uri=uri,
        type="Person",
        username=name,
        inbox=f"{uri}/inbox",
        shared_inbox=f"https://{host}/inbox" if shared else None,
        followers=f"{uri}/followers",
    )
    return await actors.upsert_remote(db, doc, domain=host, summary="", now=T0)


async def local_actor(db: Database, name: str) -> Actor:
    urls = Urls("http://localhost:8123").actor_urls(name)
    async with db.write() as conn:
        actor_id = await actors.insert_local(
            conn,
            uri=urls["uri"],
            username=name,
            domain="localhost",
            actor_type="Person",
            display_name=name,
            summary="",
            urls=urls,
            public_key_pem="",
            now=T0,
        )
    found = await actors.by_id(db, actor_id)
    assert found is not None
    return found


def note_row(uri: str, author: Actor, content: str = "<p>hi</p>") -> NoteRow:
    return NoteRow(
        uri=uri,
        actor_id=author.id,
        local=False,
        content=content,
        visibility="public",
        published=T0,
        published_text="2023-11-14T22:13:20Z",
        to=(PUBLIC,),
        hashtags=("Tag",),
    )


# --- schema and connections -------------------------------------------------------------------


async def test_migrations_create_the_schema_and_set_user_version(
    db: Database, store: Path | str
) -> None:
    assert db.dialect == ("sqlite" if isinstance(store, Path) else "postgresql")
    assert LATEST >= 1
    assert await db.schema_version() == LATEST
    if db.dialect == "sqlite":
        assert await db.fetchval("PRAGMA user_version") == LATEST
        listing = "SELECT name FROM sqlite_master WHERE type='table'"
    else:
        listing = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    tables = {r[0] for r in await db.fetchall(listing)}
    assert {"actors", "accounts", "notes", "tombstones", "jobs", "follows", "media"} <= tables


async def test_migrate_again_is_a_no_op(db: Database) -> None:
    await db.execute("INSERT INTO tombstones VALUES ('https://x.example/1', 'a', 1)")
    assert await db.migrate() == LATEST
    assert await db.fetchval("SELECT COUNT(*) FROM tombstones") == 1


async def test_reopening_migrates_nothing(store: Path | str) -> None:
    async with open_store(store) as first:
        assert await first.migrate() == LATEST
    async with open_store(store) as second:
        assert await second.migrate() == LATEST


async def test_two_processes_migrating_a_fresh_file_at_once(store: Path | str) -> None:
    async with open_store(store) as one, open_store(store) as two:
        assert await asyncio.gather(one.migrate(), two.migrate()) == [LATEST, LATEST]


async def test_wal_foreign_keys_and_busy_timeout(db: Database, sqlite_only: None) -> None:
    # WAL is a property of the file: any connection, even a plain one, sees it
    with contextlib.closing(sqlite3.connect(db.path)) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert await db.fetchval("PRAGMA foreign_keys") == 1
    assert await db.fetchval("PRAGMA busy_timeout") > 0
    async with db.write() as conn:
        async with conn.execute("PRAGMA foreign_keys") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == 1


async def test_foreign_keys_are_enforced_and_the_write_rolled_back(db: Database) -> None:
    author = await remote_actor(db, "alice")
    ghost = dataclasses.replace(author, id=9999)

    def work(conn: sqlite3.Connection) -> None:
        notes.insert(conn, note_row("https://remote.example/n/1", author), now=T0)
        notes.insert(conn, note_row("https://remote.example/n/2", ghost), now=T0)

    with pytest.raises(sqlite3.IntegrityError):
        await db.transaction(work)
    assert await notes.by_uri(db, "https://remote.example/n/1") is None
    await db.execute("INSERT INTO tombstones VALUES ('u', 'a', 1)")
    assert await db.fetchval("SELECT COUNT(*) FROM tombstones WHERE uri = 'u'") == 1


async def test_an_error_stops_the_callback_by_its_next_read_and_rolls_back(db: Database) -> None:
    """What any PostgreSQL writer must keep (pipelining was tried, BENCHMARKS.md "Pipelined write
    transactions"): a failed statement the callback never reads still fails the transaction with
    SQLite's error, nothing of it is written, and rowcounts after it are right."""
    tomb = "INSERT INTO tombstones VALUES (?, 'a', 1)"
    reached: list[str] = []

    def then_read(conn: sqlite3.Connection) -> None:
        conn.execute(tomb, ("u1",))
        conn.execute(tomb, ("u1",))
        conn.execute("SELECT COUNT(*) FROM tombstones").fetchone()
        reached.append("after the read")

    def last(conn: sqlite3.Connection) -> None:
        conn.execute(tomb, ("u2",))
        conn.execute(tomb, ("u2",))

    def then_raise(conn: sqlite3.Connection) -> None:
        conn.execute(tomb, ("u3",))
        conn.execute(tomb, ("u3",))
        raise ValueError("the callback's own")

    for work in (then_read, last):
        with pytest.raises(sqlite3.IntegrityError):
            await db.transaction(work)
    with pytest.raises((ValueError, sqlite3.IntegrityError)):
        await db.transaction(then_raise)
    assert reached == []
    assert await db.fetchval("SELECT COUNT(*) FROM tombstones") == 0

    def counted(conn: sqlite3.Connection) -> tuple[int, int]:
        conn.executemany(tomb, [("v1",), ("v2",), ("v3",)])
        conn.execute("UPDATE tombstones SET deleted_at = 2 WHERE uri = 'none'")
        moved = conn.execute("UPDATE tombstones SET deleted_at = 2 WHERE uri <> 'v1'")
        return moved.rowcount, conn.execute("DELETE FROM tombstones WHERE uri = 'v1'").rowcount

    assert await db.transaction(counted) == (2, 1)
    assert await db.fetchval("SELECT SUM(deleted_at) FROM tombstones") == 4


async def test_concurrent_writes_are_serialised_and_all_land(db: Database) -> None:
    inserts = [
        db.execute(
            "INSERT INTO tombstones (uri, actor_uri, deleted_at) VALUES (?, ?, ?)",
            (f"https://x.example/{i}", "a", T0),
        )
        for i in range(200)
    ]
    ids = await asyncio.gather(*inserts)
    if db.dialect == "sqlite":  # tombstones have no id column: only SQLite's rowid answers
        assert len(set(ids)) == 200
    assert await db.fetchval("SELECT COUNT(*) FROM tombstones") == 200


async def test_cancelled_writes_never_wedge_the_connection(db: Database) -> None:
    """A write cancelled at any await point (a client gone, a worker stopping) leaves the
    writer usable: the next write must not find itself inside a stale transaction."""
    for steps in range(12):
        task = asyncio.create_task(
            db.execute("INSERT INTO tombstones VALUES (?, 'a', 1)", (f"cancelled-{steps}",))
        )
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await db.execute("INSERT INTO tombstones VALUES (?, 'a', 1)", (f"after-{steps}",))
    assert await db.fetchval("SELECT COUNT(*) FROM tombstones WHERE uri LIKE 'after-%'") == 12


async def test_a_second_database_on_the_same_file_can_write(store: Path | str) -> None:
    async with open_store(store) as web, open_store(store) as cli:
        await web.migrate()
        await web.execute("INSERT INTO tombstones VALUES ('from-web', 'a', 1)")
        await cli.execute("INSERT INTO tombstones VALUES ('from-cli', 'a', 1)")
        # each sees the other's committed write
        assert await web.fetchval("SELECT COUNT(*) FROM tombstones") == 2
        assert await cli.fetchval("SELECT 1 FROM tombstones WHERE uri = 'from-web'") == 1


async def test_a_second_writer_waits_for_the_first_instead_of_failing(
    tmp_path: Path, sqlite_only: None
) -> None:
    path = tmp_path / "db.sqlite3"
    async with Database(path) as web, Database(path) as cli:
        await web.migrate()
        async with web.write() as conn:
            await conn.execute("INSERT INTO tombstones VALUES ('first', 'a', 1)")
            waiting = asyncio.create_task(
                cli.execute("INSERT INTO tombstones VALUES ('second', 'a', 2)")
            )
            await asyncio.sleep(0.3)
            assert not waiting.done()
        await asyncio.wait_for(waiting, timeout=5)
        rows = await cli.fetchall("SELECT uri FROM tombstones ORDER BY deleted_at")
        assert [r[0] for r in rows] == ["first", "second"]


# --- jobs -------------------------------------------------------------------------------------


async def test_enqueue_with_the_same_dedupe_key_makes_one_row(db: Database) -> None:
    assert await jobs.enqueue(db, "reply", {"note": 1}, now=T0, dedupe_key="reply:1")
    assert not await jobs.enqueue(db, "reply", {"note": 1}, now=T0 + 5, dedupe_key="reply:1")
    assert await db.fetchval("SELECT COUNT(*) FROM jobs") == 1
    # jobs without a key are never merged
    assert await jobs.enqueue(db, "deliver", {}, now=T0)
    assert await jobs.enqueue(db, "deliver", {}, now=T0)
    assert await jobs.counts(db) == {"pending": 3}


async def test_enqueue_many_dedupes_too(db: Database) -> None:
    batch = [("deliver", {"inbox": "a"}, "k:a"), ("deliver", {"inbox": "b"}, "k:b")]
    await jobs.enqueue_many(db, batch, now=T0)
    await jobs.enqueue_many(db, batch, now=T0)
    assert await jobs.counts(db) == {"pending": 2}


async def test_claim_returns_due_jobs_only_oldest_first(db: Database) -> None:
    await jobs.enqueue(db, "later", {}, now=T0, run_after=T0 + 100)
    await jobs.enqueue(db, "second", {}, now=T0, run_after=T0 - 5)
    await jobs.enqueue(db, "first", {"n": 1}, now=T0, run_after=T0 - 10)
    first = await jobs.claim(db, now=T0, lease_seconds=LEASE)
    second = await jobs.claim(db, now=T0, lease_seconds=LEASE)
    assert first is not None and second is not None
    assert (first.kind, first.payload, first.attempts, first.state) == (
        "first",
        {"n": 1},
        1,
        "running",
    )
    assert second.kind == "second"
    assert await jobs.claim(db, now=T0, lease_seconds=LEASE) is None
    later = await jobs.claim(db, now=T0 + 100, lease_seconds=LEASE)
    assert later is not None and later.kind == "later"


async def test_a_leased_job_is_claimed_again_once_its_lease_expires(db: Database) -> None:
    await jobs.enqueue(db, "deliver", {"inbox": "x"}, now=T0)
    job = await jobs.claim(db, now=T0, lease_seconds=60)
    assert job is not None and job.attempts == 1
    # the worker that holds it is killed; others poll in the meantime
    assert await jobs.claim(db, now=T0 + 30, lease_seconds=60) is None
    assert await jobs.claim(db, now=T0 + 60, lease_seconds=60) is None
    assert await db.fetchval("SELECT locked_until FROM jobs WHERE id = ?", (job.id,)) == T0 + 60
    again = await jobs.claim(db, now=T0 + 61, lease_seconds=60)
    assert again is not None
    assert (again.id, again.attempts, again.payload) == (job.id, 2, {"inbox": "x"})


async def test_reschedule_complete_fail_and_retry_failed(db: Database) -> None:
    for name in ("a", "b", "c"):
        await jobs.enqueue(db, "k", {"name": name}, now=T0, dedupe_key=name)
    a, b, c = [await jobs.claim(db, now=T0, lease_seconds=LEASE) for _ in range(3)]
    assert a and b and c
    await jobs.complete(db, a.id, now=T0 + 1)
    await jobs.reschedule(db, b.id, run_after=T0 + 500, error="HTTP 503", now=T0 + 1)
    await jobs.fail(db, c.id, error="x" * 5000, now=T0 + 1)
    assert await jobs.counts(db) == {"done": 1, "pending": 1, "failed": 1}

    [failed] = await jobs.list_jobs(db, state="failed")
    assert failed.last_error == "x" * 2000
    [pending] = await jobs.list_jobs(db, state="pending")
    assert (pending.id, pending.run_after, pending.last_error) == (b.id, T0 + 500, "HTTP 503")
    assert await db.fetchval("SELECT locked_until FROM jobs WHERE id = ?", (b.id,)) is None
    assert await jobs.next_due(db) == T0 + 500

    # neither a done nor a failed job comes back; the rescheduled one waits for its time
    assert await jobs.claim(db, now=T0 + 499, lease_seconds=LEASE) is None
    retried = await jobs.claim(db, now=T0 + 500, lease_seconds=LEASE)
    assert retried is not None and (retried.id, retried.attempts) == (b.id, 2)

    assert await jobs.retry_failed(db, now=T0 + 600) == 1
    assert await jobs.retry_failed(db, now=T0 + 600) == 0
    requeued = await jobs.claim(db, now=T0 + 600, lease_seconds=LEASE)
    assert requeued is not None and (requeued.id, requeued.attempts) == (c.id, 1)
    assert await jobs.counts(db) == {"done": 1, "running": 2}
    assert await jobs.pending_count(db, now=T0 + 600) == 2


# --- notes, tombstones, follows ---------------------------------------------------------------


async def test_note_insert_is_idempotent_by_uri(db: Database) -> None:
    author = await remote_actor(db, "alice")
    uri = "https://remote.example/notes/1"
    note_id = await db.transaction(lambda conn: notes.insert(conn, note_row(uri, author), now=T0))
    other = note_row(uri, author, "<p>other</p>")
    assert await db.transaction(lambda conn: notes.insert(conn, other, now=T0)) is None
    note = await notes.by_uri(db, uri)
    assert note is not None and note.id == note_id and note.content == "<p>hi</p>"
    assert await db.fetchval("SELECT COUNT(*) FROM notes") == 1
    assert (
        await db.fetchval("SELECT name FROM note_hashtags WHERE note_id = ?", (note_id,)) == "tag"
    )


async def test_a_tombstone_prevents_reinsertion(tmp_path: Path, store: Path | str) -> None:
    raw = {"instance": {"domain": "localhost:8123"}, "storage": {"database": str(store)}}
    config = parse_config(raw, base_dir=tmp_path)
    async with open_state(config, clock=lambda: T0) as state:
        author = await remote_actor(state.db, "alice")
        incoming = IncomingNote(
            uri="https://remote.example/notes/7",
            type="Note",
            attributed_to=author.uri,
            content="<p>hello</p><script>x()</script>",
            to=(PUBLIC,),
            cc=(),
        )
        stored = await remote_notes.store(state, incoming, author)
        assert stored is not None and stored.content == "<p>hello</p>"
        assert await remote_notes.store(state, incoming, author) is None  # a redelivered Create

        assert await notes.tombstone(state.db, incoming.uri, actor_uri=author.uri, now=T0)
        assert await notes.by_uri(state.db, incoming.uri) is None
        assert await notes.is_tombstoned(state.db, incoming.uri)
        assert await remote_notes.store(state, incoming, author) is None  # a late Create
        assert await notes.by_uri(state.db, incoming.uri) is None
        # deleting twice is harmless and reports that nothing was removed
        assert not await notes.tombstone(state.db, incoming.uri, actor_uri=author.uri, now=T0)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("accepted", "pending", "accepted"),
        ("pending", "pending", "pending"),
        ("pending", "accepted", "accepted"),
    ],
)
async def test_follow_upsert_never_downgrades_accepted(
    db: Database, first: str, second: str, expected: str
) -> None:
    follower = await remote_actor(db, "bob")
    followee = await local_actor(db, "alice")
    made = await follows.upsert(
        db,
        follower_id=follower.id,
        followee_id=followee.id,
        uri="https://r/f/1",
        state=first,
        now=T0,
    )
    again = await follows.upsert(
        db,
        follower_id=follower.id,
        followee_id=followee.id,
        uri="https://r/f/2",
        state=second,
        now=T0,
    )
    assert again.id == made.id
    assert again.state == expected
    assert again.uri == "https://r/f/2"
    assert await db.fetchval("SELECT COUNT(*) FROM follows") == 1


async def test_follower_inboxes_dedupes_shared_inboxes(db: Database) -> None:
    alice = await local_actor(db, "alice")
    on_shared = [await remote_actor(db, n) for n in ("a1", "a2", "a3")]
    personal = await remote_actor(db, "solo", host="tiny.example", shared=False)
    pending = await remote_actor(db, "p", host="pending.example")
    local_fan = await local_actor(db, "carol")
    for actor in [*on_shared, personal, local_fan]:
        await follows.upsert(
            db, follower_id=actor.id, followee_id=alice.id, uri=None, state="accepted", now=T0
        )
    await follows.upsert(
        db, follower_id=pending.id, followee_id=alice.id, uri=None, state="pending", now=T0
    )
    inboxes = await follows.follower_inboxes(db, alice.id)
    assert sorted(inboxes) == [
        "https://remote.example/inbox",
        "https://tiny.example/users/solo/inbox",
    ]
    assert await follows.count_followers(db, alice.id) == 5


async def test_storage_pool_size_bounds_the_connections_of_a_process(
    store: Path | str, tmp_path: Path
) -> None:
    raw = {"storage": {"database": str(store), "pool_size": 2}}
    config = parse_config(raw, base_dir=tmp_path)
    async with open_state(config) as state:
        if isinstance(store, Path):
            # SQLite has one reader connection whatever the setting says.
            assert await state.db.fetchval("SELECT 1") == 1
            return
        reads = [
            state.db.fetchval("SELECT pg_backend_pid() FROM (SELECT pg_sleep(0.05)) AS s")
            for _ in range(8)
        ]
        pids = set(await asyncio.gather(*reads))
        assert 1 <= len(pids) <= 2  # eight reads at once shared the two pooled connections
        writer = await state.db.transaction(
            lambda conn: conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        )
        assert writer not in pids  # the writer's connection comes on top of the pool
