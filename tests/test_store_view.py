"""The e2e and fuzz tests' view of a server's database (tests/support/store_view.py), on both
stores: SQLite's SQL with ``?`` and ``LIKE … '%'`` reads and writes the same, and the
integrity check is clean on a fresh database and names what is wrong on a broken one."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import psycopg
from support import store_view

from fediverse_ai.storage.store import open_store


async def _migrated(store: Path | str) -> None:
    async with open_store(store) as database:
        await database.migrate()


async def test_rows_and_writes_in_sqlite_sql(store: Path | str) -> None:
    await _migrated(store)
    with store_view.connect(store) as conn:
        conn.executemany(
            "INSERT INTO actors (uri, local, username, domain, inbox, published)"
            " VALUES (?, 0, ?, ?, ?, ?)",
            [(f"http://127.0.0.1:9/u/f{i}", f"f{i}", "127.0.0.1:9", "http://x/inbox", 1.5)
             for i in range(3)],
        )  # fmt: skip
    found = store_view.rows(
        store,
        "SELECT username FROM actors WHERE uri LIKE 'http://127.0.0.1:%' AND local = ?"
        " ORDER BY username",
        (0,),
    )
    assert found == [{"username": "f0"}, {"username": "f1"}, {"username": "f2"}]
    assert store_view.rows(store, "SELECT COUNT(*) AS n FROM actors WHERE uri LIKE '%/f1'") == [
        {"n": 1}
    ]


async def test_integrity_check_is_clean_on_a_fresh_database(store: Path | str) -> None:
    await _migrated(store)
    assert store_view.integrity_problems(store) == []


async def test_integrity_check_names_what_is_broken(store: Path | str) -> None:
    await _migrated(store)
    if store_view.is_postgresql(store):
        # Foreign keys cannot be broken on PostgreSQL; a constraint never validated can hide
        # rows that break it.
        with psycopg.connect(str(store), autocommit=True) as conn:
            conn.execute("ALTER TABLE actors ADD CONSTRAINT short_names CHECK (id < 0) NOT VALID")
        expected = "constraint not validated: actors.short_names"
    else:
        # Foreign keys are off on a plain connection.
        with contextlib.closing(sqlite3.connect(store)) as db, db:
            db.execute(
                "INSERT INTO follows (follower_id, followee_id, state, created_at)"
                " VALUES (998, 999, 'accepted', 0)"
            )
        expected = "foreign key: ('follows',"
    problems = store_view.integrity_problems(store)
    assert problems and all(p.startswith(expected) for p in problems), problems
