"""Read a running server's database from outside it, whichever backend it is on.

The end-to-end and interop tests check what a separate ``fediverse-ai`` process stored. On
SQLite that is the file, opened read-only so the server's writer is never blocked; on
PostgreSQL it is the server's schema, through psycopg with the same SQLite-flavoured query
translated by :func:`fediverse_ai.storage.dialect.to_postgres`, so one assertion serves both.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fediverse_ai.storage.dialect import to_postgres
from fediverse_ai.storage.store import is_postgresql_url

Row = dict[str, Any]


def read_rows(database: str, sql: str, params: Sequence[Any] = (), *, base: Path) -> list[Row]:
    """``sql`` (SQLite's dialect, ``?`` placeholders) on ``database``, as ``storage.database``
    names it; ``base``: the directory a relative SQLite path is relative to (the server's)."""
    if is_postgresql_url(database):
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(database, autocommit=True, row_factory=dict_row) as conn:
            return list(conn.execute(to_postgres(sql), tuple(params)).fetchall())
    path = base / database
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, tuple(params))]
