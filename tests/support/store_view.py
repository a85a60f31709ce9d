"""A test's own view of a server's database, on SQLite or PostgreSQL alike.

The e2e and fuzz tests look at a server's tables the way an operator would, beside the
running process: queries (``rows``), a few writes into a stopped server's tables
(``connect``), and an integrity check (``integrity_problems``). ``target`` is what the
instance's ``storage.database`` names: a SQLite file's path or a ``postgresql://`` URL.
The SQL stays SQLite's; on PostgreSQL it goes through the product's own translation
(``storage/dialect.py``), so a test query that needs a rule the product lacks fails here
the same way a repository's would.

On PostgreSQL the integrity check is not ``PRAGMA integrity_check``'s twin. Foreign keys and
unique constraints are enforced by the server at every statement (none is declared
deferrable), so there is nothing to look for afterwards beyond a constraint that is not
validated; what can still break is storage itself, and ``amcheck`` (contrib, shipped with
PostgreSQL 15) verifies every B-tree index against its table and every table's heap pages,
as the SQLite check does for the file's B-trees.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from fediverse_ai.storage.dialect import to_postgres
from fediverse_ai.storage.store import is_postgresql_url

Target = Path | str
Row = dict[str, Any]


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


def is_postgresql(target: Target) -> bool:
    return isinstance(target, str) and is_postgresql_url(target)


class _SQLite:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [dict(row) for row in self._conn.execute(sql, tuple(params))]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)


class _Postgres:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        query = to_postgres(sql)
        with self._conn.cursor() as cur:
            if params:
                cur.execute(query, tuple(params))
            else:
                # Without parameters psycopg leaves the query alone: undo the %-escaping.
                cur.execute(query.replace("%%", "%"))
            return list(cur.fetchall()) if cur.description else []

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(to_postgres(sql), [tuple(r) for r in rows])


@contextlib.contextmanager
def connect(target: Target, *, read_only: bool = False) -> Iterator[Connection]:
    """One transaction on ``target``, committed at the end of the block (rolled back on an
    error). ``read_only``: the server may be running, and the test must not write."""
    if is_postgresql(target):
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(str(target), row_factory=dict_row, connect_timeout=10) as pg:
            pg.read_only = read_only
            yield _Postgres(pg)
        return
    uri = f"file:{target}?mode=ro" if read_only else f"file:{target}"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn, conn:
        conn.row_factory = sqlite3.Row
        yield _SQLite(conn)


def rows(target: Target, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """The rows of one query, read while the server runs."""
    with connect(target, read_only=True) as conn:
        return conn.execute(sql, params)


def integrity_problems(target: Target) -> list[str]:
    """What is wrong with the database's storage; empty when it is intact (the module's
    docstring says what is checked on each store)."""
    if not is_postgresql(target):
        with connect(target, read_only=True) as conn:
            found = [str(tuple(r.values())) for r in conn.execute("PRAGMA integrity_check")]
            if found == ["('ok',)"]:
                found = []
            keys = conn.execute("PRAGMA foreign_key_check")
            return found + [f"foreign key: {tuple(r.values())}" for r in keys]
    return _postgres_problems(str(target))


def _postgres_problems(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        # In public, not the test's schema: the cluster's database is shared by every schema,
        # and an extension exists once per database. Two checks starting together may race.
        with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA public")
        relations = conn.execute(
            "SELECT c.oid::regclass::text, c.relkind FROM pg_class c"
            " LEFT JOIN pg_am am ON am.oid = c.relam"
            " WHERE c.relnamespace = current_schema()::regnamespace"
            " AND (c.relkind = 'r' OR (c.relkind = 'i' AND am.amname = 'btree'))"
            " ORDER BY 1"
        ).fetchall()
        problems = []
        for name, kind in relations:
            try:
                if kind == "i":
                    conn.execute("SELECT public.bt_index_check(%s::regclass, true)", (name,))
                else:
                    broken = conn.execute(
                        "SELECT blkno, offnum, msg FROM public.verify_heapam(%s::regclass)",
                        (name,),
                    ).fetchall()
                    problems += [f"{name}: block {b} item {o}: {m}" for b, o, m in broken]
            except psycopg.Error as exc:
                problems.append(f"{name}: {exc}")
        unchecked = conn.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint"
            " WHERE connamespace = current_schema()::regnamespace AND NOT convalidated"
        ).fetchall()
        problems += [f"constraint not validated: {t}.{c}" for t, c in unchecked]
        return problems
