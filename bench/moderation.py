"""What the moderation filters cost the hot read queries (issue 20 item 3).

Seeds a database (10,000 public local posts by 50 accounts, 10 of them suspended and 10
silenced, 20,000 more remote actors known, replies and likes for one viewer's notifications)
and times, in-process, the storage queries behind ``/``, a thread's visibility check and
``/notifications``. Run it with this checkout's package and with another's on the same
database to compare::

    python bench/moderation.py /tmp/mod.sqlite3                       # seeds on first use
    PYTHONPATH=/path/to/other/checkout python bench/moderation.py /tmp/mod.sqlite3

It is run as a script, not ``-m bench...``, so that ``PYTHONPATH`` decides which
``fediverse_ai`` is measured. An older checkout reads the seeded database as it is (it ignores
the new columns; ``migrate`` leaves a newer schema alone).
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fediverse_ai.storage import timelines
from fediverse_ai.storage.db import Database

POSTS = 10_000
AUTHORS = 50
KNOWN = 20_000  # remote actors we know of but who did not post: what a filter must not scan
ROUNDS = 300


async def seed(db: Database) -> None:
    if await db.fetchval("SELECT COUNT(*) FROM notes") >= POSTS:
        return
    base = "https://bench.test/users/"
    async with db.write() as conn:
        for i in range(AUTHORS):
            moderated = ", suspended_at = 1" if i < 10 else ", silenced_at = 1" if i < 20 else ""
            await conn.execute(
                "INSERT INTO actors (id, uri, local, username, domain, published)"
                " VALUES (?, ?, 1, ?, 'bench.test', 0)",
                (i + 1, f"{base}u{i}", f"u{i}"),
            )
            if moderated:
                await conn.execute(f"UPDATE actors SET{moderated[1:]} WHERE id = ?", (i + 1,))
        await conn.executemany(
            "INSERT INTO actors (uri, username, domain, published) VALUES (?, ?, 'far.test', 0)",
            [(f"https://far.test/users/r{i}", f"r{i}") for i in range(KNOWN)],
        )
        for n in range(POSTS):
            author = n % AUTHORS + 1
            reply_to = f"{base}u{AUTHORS - 1}/statuses/{n - 1}" if n % 7 == 0 and n else None
            await conn.execute(
                "INSERT INTO notes (uri, actor_id, local, content, visibility, published,"
                " published_text, in_reply_to_uri, created_at)"
                " VALUES (?, ?, 1, '<p>post</p>', 'public', ?, '', ?, ?)",
                (f"{base}u{author - 1}/statuses/{n}", author, float(n), reply_to, float(n)),
            )
        for n in range(0, POSTS, 5):
            await conn.execute(
                "INSERT OR IGNORE INTO reactions (kind, emoji, actor_id, note_id, created_at)"
                " VALUES ('like', '', ?, ?, ?)",
                (n % AUTHORS + 1, n + 1, float(n)),
            )


def timed(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"p50 {statistics.median(ordered) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms"


FEED = (
    "SELECT id FROM notes WHERE local = 1 AND visibility = 'public'{}"
    " ORDER BY published DESC, id DESC LIMIT 20"
)
FILTERS = {
    "no filter": "",
    "NOT IN (... suspended OR silenced)": " AND actor_id NOT IN (SELECT id FROM actors"
    " WHERE suspended_at IS NOT NULL OR silenced_at IS NOT NULL)",
    "NOT IN (... UNION ALL ...), as shipped": " AND actor_id NOT IN (SELECT id FROM actors"
    " WHERE suspended_at IS NOT NULL UNION ALL SELECT id FROM actors"
    " WHERE silenced_at IS NOT NULL)",
}


def raw_feed(path: Path) -> None:
    """The local feed's SQL alone (no aiosqlite thread hop), with each way of filtering."""
    conn = sqlite3.connect(path)
    for name, cond in FILTERS.items():
        sql = FEED.format(cond)
        samples = []
        for _ in range(ROUNDS * 3):
            start = time.perf_counter()
            conn.execute(sql).fetchall()
            samples.append(time.perf_counter() - start)
        print(f"raw feed SQL, {name}: {timed(samples)}")
    conn.close()


async def main(path: Path) -> None:
    async with Database(path) as db:
        await db.migrate()
        await seed(db)
        viewer, viewer_uri = AUTHORS, f"https://bench.test/users/u{AUTHORS - 1}"
        ids = [int(r[0]) for r in await db.fetchall("SELECT id FROM notes LIMIT 20")]
        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "local_public (first page, 20)": lambda: timelines.local_public(
                db, cursor=None, limit=20
            ),
            "visible_note_ids (20 ids)": lambda: timelines.visible_note_ids(
                db, ids, viewer, viewer_uri
            ),
            "notifications (40)": lambda: timelines.notifications(
                db, viewer, viewer_uri, before=None, limit=40
            ),
        }
        for name, query in cases.items():
            for _ in range(20):
                await query()
            samples = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                await query()
                samples.append(time.perf_counter() - start)
            print(f"{name}: {timed(samples)}")
    raw_feed(path)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/moderation-bench.sqlite3")))
