"""Rate buckets stay bounded, whatever keys callers invent (the suite's real store, pinned time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.stores import suite_database

from fediverse_ai.storage.ai_replies import take_token
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.store import open_store


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_store(suite_database(tmp_path / "fediverse-ai.sqlite3")) as database:
        await database.migrate()
        yield database


async def buckets(db: Database) -> int:
    return int(await db.fetchval("SELECT COUNT(*) FROM rate_buckets"))


async def test_buckets_that_have_refilled_are_deleted(db: Database) -> None:
    """Keys an attacker invents (addresses, accounts) cost a row only until it refills."""
    # 10 tokens, one back per 6 s: a bucket charged once is full again after 6 s.
    rate = {"capacity": 10.0, "per_second": 1 / 6}
    for n in range(500):
        assert await take_token(db, f"login:addr:{n}", now=1000.0, **rate)
    assert await buckets(db) == 500
    for n in range(20):  # later, a few keys in use
        assert await take_token(db, f"login:addr:live{n % 2}", now=2000.0 + n, **rate)
    assert await buckets(db) == 2
    # A deleted bucket is a full one: its key starts over with all its tokens.
    for _ in range(10):
        assert await take_token(db, "login:addr:0", now=3000.0, **rate)
    assert not await take_token(db, "login:addr:0", now=3000.0, **rate)


async def test_a_bucket_still_refilling_is_kept(db: Database) -> None:
    rate = {"capacity": 1.0, "per_second": 1 / 3600}
    assert await take_token(db, "account:x", now=0.0, **rate)
    for n in range(40):
        await take_token(db, f"other:{n}", now=1800.0, **rate)
    assert not await take_token(db, "account:x", now=1800.0, **rate)
    assert await take_token(db, "account:x", now=3600.0, **rate)
