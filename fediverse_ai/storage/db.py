"""SQLite access: one writer connection (writes serialised), one reader, numbered migrations.

SQLite allows one writer at a time. Inside a process an asyncio lock serialises
writes so that coroutines never fight over the write lock; across processes
(``fediverse-ai run`` beside a CLI command or a separate worker) ``BEGIN
IMMEDIATE`` plus ``busy_timeout`` make the second writer wait instead of failing.
WAL lets readers proceed while a write is in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ..config import POSTGRESQL_SCHEMES
from ..errors import StorageError
from .notify import Heard

Params = Sequence[Any] | dict[str, Any]
_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
BUSY_TIMEOUT_MS = 10_000
# The database holds password hashes and session tokens: its owner alone reads it. SQLite gives
# its -wal and -shm files the main file's mode, so setting it on the main file covers all three.
DATABASE_MODE = 0o600
T = TypeVar("T")
log = logging.getLogger(__name__)


def _migrations() -> list[tuple[int, str]]:
    files = importlib.resources.files("fediverse_ai.storage") / "migrations"
    found = []
    for entry in files.iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_schema() -> int:
    """The schema version this code migrates to (the newest migration's number)."""
    found = _migrations()
    return found[-1][0] if found else 0


class Database:
    """The SQLite file, opened for use by one process (:mod:`.pg`: the PostgreSQL store)."""

    dialect = "sqlite"
    # Appended to a claim's row search: SQLite's one writer needs no row locks.
    skip_locked = ""
    # Whether :meth:`listen` hears other processes (PostgreSQL's LISTEN/NOTIFY, storage/notify.py).
    notifies = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        restrict_file(self.path, DATABASE_MODE)
        try:
            self._writer = await self._connect()
            self._reader = await self._connect()
            await _pragma(self._writer, "journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so that writes can be IMMEDIATE.
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await _pragma(conn, f"busy_timeout={BUSY_TIMEOUT_MS}")
        await _pragma(conn, "foreign_keys=ON")
        await _pragma(conn, "synchronous=NORMAL")
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StorageError("database is not open")
        return self._reader

    async def schema_version(self) -> int:
        """The number of the last migration applied."""
        return int(await self.fetchval("PRAGMA user_version") or 0)

    async def migrate(self) -> int:
        """Apply pending migrations; return the schema version reached."""
        async with self.write() as conn:
            cur = await conn.execute("PRAGMA user_version")
            row = await cur.fetchone()
            version = int(row[0]) if row else 0
            for number, sql in _migrations():
                if number <= version:
                    continue
                for statement in _split_sql(sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version={number}")
                version = number
        return version

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: serialised in-process, IMMEDIATE across processes."""
        if self._writer is None:
            raise StorageError("database is not open")
        async with self._write_lock:
            conn = self._writer
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                # aiosqlite's thread runs the queued BEGIN anyway: end that transaction
                # before giving up the lock, or every later write here fails with
                # "cannot start a transaction within a transaction".
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            else:
                await conn.execute("COMMIT")

    # Reads run to completion in one call on the reader's thread. A cursor kept open across
    # awaits (execute, then fetchone, then close) holds the reader's snapshot while other
    # coroutines read on the same connection: under load it never ends, and a row written
    # just before is not seen (a concurrent first contact failed upsert_remote's read-back).
    # One hop instead of three is also cheaper (see BENCHMARKS.md).

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.reader.execute_fetchall(sql, params)
        for row in rows:
            return row
        return None

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return list(await self.reader.execute_fetchall(sql, params))

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(conn)`` as one IMMEDIATE transaction in one trip to the writer's thread.

        Each trip to aiosqlite's thread costs about 50 µs of CPU (queue, thread wake-up,
        event-loop wake-up) against a few µs for a small statement; :meth:`write` makes
        one trip per statement plus BEGIN and COMMIT. The hot paths (inbox intake, job
        claims and completions) use this instead (BENCHMARKS.md). ``work`` runs in the
        writer's thread: plain sqlite3 calls only, no awaits. Once queued it runs to the
        end even if the caller is cancelled, so a transaction is never left half-done.
        """
        if self._writer is None:
            raise StorageError("database is not open")
        writer = self._writer
        async with self._write_lock:
            # aiosqlite has no public call for "run this function in the connection's
            # thread"; _execute is what its own methods use (checked by the test suite).
            result: T = await writer._execute(  # type: ignore[no-untyped-call]
                _in_transaction, writer._conn, work
            )
            return result

    async def listen(self, channel: str) -> AsyncIterator[Heard]:
        """What other processes notify on ``channel`` (:mod:`.notify`). SQLite serves one
        process, whose wake-ups are in memory: this never yields."""
        await asyncio.Event().wait()
        yield Heard(None, listening=False)  # pragma: no cover - unreachable; makes a generator

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One write statement in its own transaction; returns lastrowid."""
        return await self.transaction(lambda conn: int(conn.execute(sql, params).lastrowid or 0))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        await self.transaction(lambda conn: conn.executemany(sql, rows))


def safe_url(target: Path | str) -> str:
    """``storage.database`` for messages and logs: a URL without its password."""
    text = str(target)
    if not (isinstance(target, str) and text.startswith(POSTGRESQL_SCHEMES)):
        return text
    scheme, _, rest = text.partition("://")
    if "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        rest = f"{userinfo.split(':')[0]}@{host}"
    return f"{scheme}://{rest}"


def restrict_file(path: Path, mode: int) -> None:
    """Create ``path`` empty with ``mode`` when missing; tighten it when it is readable by
    others (a database from before this rule, or one copied in with a loose umask)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # A device is never ours to tighten: a SQLite store opened on the PostgreSQL store's
            # placeholder path once made /dev/null 0600, and initdb fails on that.
            return
        current = stat.S_IMODE(info.st_mode)
        if current & ~mode:
            log.warning("%s was mode %o; setting it to %o", path, current, mode)
            os.chmod(path, mode)
    else:
        os.close(fd)


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


async def _pragma(conn: aiosqlite.Connection, pragma: str) -> None:
    """Run a PRAGMA and finalise it. A PRAGMA that returns a row (journal_mode=WAL) left
    un-reset keeps a fresh database file locked: another process opening it would wait
    out busy_timeout and then fail with "database is locked"."""
    async with conn.execute(f"PRAGMA {pragma}"):
        pass


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations hold no triggers or string semicolons)."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
