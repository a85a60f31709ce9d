"""The e2e and interop tests' outside view of a server's database (tests/support/dbread.py) reads
the same rows from a SQLite file, given relative to the server's directory as its config names
it, and from a PostgreSQL schema URL, with one SQLite-flavoured query."""

from __future__ import annotations

from pathlib import Path

from support.dbread import read_rows

from fediverse_ai.storage.store import open_store


async def test_one_query_reads_both_backends(store: Path | str, tmp_path: Path) -> None:
    async with open_store(store) as db:
        await db.migrate()
        await db.execute(
            "INSERT INTO tombstones (uri, actor_uri, deleted_at) VALUES (?, ?, ?), (?, ?, ?)",
            ("https://x.test/n/1", "https://x.test/u/a", 1.5, "https://x.test/n/2", "b", 2.0),
        )
        # What a config names: a path relative to the server's directory, or the URL itself.
        database = store.name if isinstance(store, Path) else store
        rows = read_rows(
            database,
            "SELECT uri, deleted_at FROM tombstones WHERE actor_uri IS NOT ? AND uri LIKE ?"
            " ORDER BY uri",
            ("b", "HTTPS://x.test/%"),
            base=tmp_path,
        )
    assert rows == [{"uri": "https://x.test/n/1", "deleted_at": 1.5}]
