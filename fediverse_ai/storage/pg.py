"""The PostgreSQL store: the same :class:`~.db.Database` interface over psycopg 3.

Why psycopg 3 rather than asyncpg: the hot write paths hand ``Database.transaction`` a *sync*
callback run in the writer's thread (one trip instead of one per statement, BENCHMARKS.md), and
36 call sites rely on it. psycopg 3 has both sync connections, one of which runs those
callbacks unchanged in a worker thread, and an async pool for the reads and :meth:`write`
blocks; asyncpg is async only, so every callback would have to be rewritten as a coroutine.
psycopg also speaks the DB-API (``execute``/``fetchone``/``rowcount``), the shape the
repositories already use, and its binary wheel needs no compiler.

The repositories' SQL is SQLite's; :mod:`.dialect` translates each statement once (cached).
Rows answer by index and by name like ``sqlite3.Row``; an ``INSERT`` into an ``id`` table
answers ``lastrowid`` through ``RETURNING id``; integrity errors are raised as
``sqlite3.IntegrityError`` (and a missing table as ``sqlite3.OperationalError``), the classes
the repositories catch; PostgreSQL aborts the transaction at the error, so a callback cannot
catch one and go on writing as it could on SQLite (none does). The callbacks' ``sqlite3``
annotations stay: the adapters here implement the part of ``sqlite3.Connection`` they use.

First slice of issue 15: writes are serialised within a process as on SQLite (an asyncio
lock); several processes already share one database safely (job claims take ``FOR UPDATE
SKIP LOCKED``), LISTEN/NOTIFY and shared rate state are later slices.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import aiosqlite
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg_pool import AsyncConnectionPool

from ..errors import StorageError
from .db import Database, Params, _migrations, _split_sql, safe_url
from .dialect import PREAMBLE, ddl_to_postgres, id_tables, translate

T = TypeVar("T")
_MIGRATE_LOCK = zlib.crc32(b"fediverse-ai migrations")
POOL_SIZE = 4


class Row(tuple[Any, ...]):
    """A result row with ``sqlite3.Row``'s access: ``row[0]``, ``row["name"]``, ``keys()``."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}
    _names: ClassVar[tuple[str, ...]] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                key = self._index[key.lower()]
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index = {name.lower(): i for i, name in reversed(list(enumerate(names)))}
    return type("Row", (Row,), {"__slots__": (), "_index": index, "_names": names})


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = tuple(col.name for col in cursor.description or ())
    cls = _row_class(names)
    return lambda values: cls(values)


class _IntBool(Dumper):
    """SQLite has no booleans: the repositories store flags as 0/1 in INTEGER columns."""

    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class _Number(Loader):
    """``numeric`` (SUM and AVG of bigints) as int or float, as SQLite returns them."""

    def load(self, data: Any) -> Any:
        text = bytes(data)
        return int(text) if text.lstrip(b"-").isdigit() else float(text)


def _configure(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    conn.adapters.register_dumper(bool, _IntBool)
    conn.adapters.register_loader("numeric", _Number)
    conn.row_factory = _row_factory


async def _async_configure(conn: psycopg.AsyncConnection[Any]) -> None:
    _configure(conn)


@contextmanager
def _sqlite_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.IntegrityError as exc:
        raise sqlite3.IntegrityError(str(exc).splitlines()[0]) from exc
    except psycopg.errors.UndefinedTable as exc:
        raise sqlite3.OperationalError(str(exc).splitlines()[0]) from exc


class _Cursor:
    """What the repositories read from ``conn.execute(...)``: rows, rowcount, lastrowid."""

    def __init__(self, rows: list[Row], rowcount: int, returning_id: bool) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.lastrowid = int(rows[0][0]) if returning_id and rows else None
        if returning_id:
            self._rows = []  # the RETURNING id was ours, not the caller's

    def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class _AsyncCursor(_Cursor):
    async def fetchone(self) -> Row | None:  # type: ignore[override]
        return _Cursor.fetchone(self)

    async def fetchall(self) -> list[Row]:  # type: ignore[override]
        return _Cursor.fetchall(self)


def _translate(sql: str, ids: frozenset[str], params: Params) -> tuple[str, Params | None, bool]:
    query, returning_id = translate(sql, ids)
    if not params:
        # psycopg leaves a query without parameters alone: undo the %-escaping.
        return query.replace("%%", "%"), None, returning_id
    return query, _without_nul(params), returning_id


def _nul_free(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def _without_nul(params: Params) -> Params:
    """PostgreSQL's text cannot hold NUL, which SQLite stores and which hostile input carries
    (a name in a URL, a post): it becomes U+FFFD, the replacement character, instead of an
    error (a 500). A lookup for such a value then finds nothing, as no stored text holds NUL."""
    if isinstance(params, dict):
        return {k: _nul_free(v) for k, v in params.items()}
    return [_nul_free(v) for v in params]


class SyncConnection:
    """A psycopg connection inside a transaction, shaped like ``sqlite3.Connection``."""

    def __init__(self, conn: psycopg.Connection[Any], ids: frozenset[str]) -> None:
        self._conn = conn
        self._ids = ids

    def execute(self, sql: str, params: Params = ()) -> _Cursor:
        query, args, returning_id = _translate(sql, self._ids, params)
        with _sqlite_errors(), self._conn.cursor() as cur:
            cur.execute(query, args)
            rows = cast(list[Row], cur.fetchall()) if cur.description else []
            return _Cursor(rows, cur.rowcount, returning_id)

    def executemany(self, sql: str, rows: Iterable[Params]) -> _Cursor:
        query, _, _ = _translate(sql, self._ids, ("",))
        with _sqlite_errors(), self._conn.cursor() as cur:
            cur.executemany(query, [_without_nul(r) for r in rows])
            return _Cursor([], cur.rowcount, False)


class AsyncConnection:
    """A psycopg async connection inside a transaction, shaped like ``aiosqlite.Connection``."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], ids: frozenset[str]) -> None:
        self._conn = conn
        self._ids = ids

    async def execute(self, sql: str, params: Params = ()) -> _AsyncCursor:
        query, args, returning_id = _translate(sql, self._ids, params)
        with _sqlite_errors():
            async with self._conn.cursor() as cur:
                await cur.execute(query, args)
                rows = cast(list[Row], await cur.fetchall()) if cur.description else []
                return _AsyncCursor(rows, cur.rowcount, returning_id)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> _AsyncCursor:
        query, _, _ = _translate(sql, self._ids, ("",))
        with _sqlite_errors():
            async with self._conn.cursor() as cur:
                await cur.executemany(query, [_without_nul(r) for r in rows])
                return _AsyncCursor([], cur.rowcount, False)


class PgDatabase(Database):
    """A PostgreSQL database (``postgresql://…``), opened for use by one process."""

    dialect = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str) -> None:
        # No file: ``path`` stays for the SQLite-only tools (backup), which refuse this store.
        super().__init__(Path(os.devnull))
        self.url = url
        self._ids = id_tables(sql for _, sql in _migrations())
        self._pool: AsyncConnectionPool | None = None
        # The transaction callbacks' connection: writes are serialised in-process, so one is
        # enough, and it saves the pool's checkout on every write (BENCHMARKS.md, last section).
        # Its own lock, not only the asyncio one: a cancelled caller's thread still runs to the end.
        self._writer_conn: psycopg.Connection[Any] | None = None
        self._writer_lock = threading.Lock()

    async def open(self) -> None:
        kwargs = {"autocommit": True}
        self._pool = AsyncConnectionPool(
            self.url, min_size=1, max_size=POOL_SIZE, kwargs=kwargs,
            configure=_async_configure, open=False,
        )  # fmt: skip
        try:
            await self._pool.open(wait=True, timeout=10)
            await asyncio.to_thread(self._write_connection)
        except Exception as exc:
            await self.close()
            raise StorageError(f"cannot open database {safe_url(self.url)}: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._writer_conn is not None:
            await asyncio.to_thread(self._writer_conn.close)
        self._pool = self._writer_conn = None

    @property
    def reader(self) -> aiosqlite.Connection:
        raise StorageError("a PostgreSQL store has no SQLite reader")

    def _reads(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise StorageError("database is not open")
        return self._pool

    def _write_connection(self) -> psycopg.Connection[Any]:
        """The writer connection, opened again if the server dropped it (a restart)."""
        conn = self._writer_conn
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.Connection.connect(self.url, autocommit=True, connect_timeout=10)
            _configure(conn)
            self._writer_conn = conn
        return conn

    def _in_transaction(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self._writer_lock:
            conn = self._write_connection()
            with conn.transaction():
                return work(conn)

    async def schema_version(self) -> int:
        value = await self.fetchval("SELECT MAX(version) FROM schema_version")
        return int(value or 0)

    async def migrate(self) -> int:
        """Apply pending migrations (translated from SQLite's) under an advisory lock, so
        that processes starting together migrate once."""
        self._reads()  # StorageError when not open
        return await asyncio.to_thread(self._in_transaction, self._migrate_in)

    def _migrate_in(self, conn: psycopg.Connection[Any]) -> int:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        for statement in PREAMBLE:
            conn.execute(statement)
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        version = int(row[0] or 0) if row else 0
        start = version
        for number, sql in _migrations():
            if number <= version:
                continue
            for statement in _split_sql(sql):
                conn.execute(ddl_to_postgres(statement))
            version = number
        if version != start:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        return version

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction on one pooled connection, serialised within the process."""
        pool = self._reads()
        async with self._write_lock, pool.connection() as conn, conn.transaction():
            yield cast(aiosqlite.Connection, AsyncConnection(conn, self._ids))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        pool = self._reads()
        query, args, _ = _translate(sql, self._ids, params)
        with _sqlite_errors():
            async with pool.connection() as conn, conn.cursor() as cur:
                await cur.execute(query, args)
                return cast(list[sqlite3.Row], await cur.fetchall())

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(conn)`` as one transaction in a worker thread, on the writer's sync
        connection. Once started it runs to the end even if the caller is cancelled."""
        self._reads()  # StorageError when not open

        def run(conn: psycopg.Connection[Any]) -> T:
            return work(cast(sqlite3.Connection, SyncConnection(conn, self._ids)))

        async with self._write_lock:
            return await asyncio.to_thread(self._in_transaction, run)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self.transaction(lambda conn: int(conn.execute(sql, params).lastrowid or 0))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        await self.transaction(lambda conn: conn.executemany(sql, rows))
