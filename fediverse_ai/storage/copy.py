"""``fediverse-ai db copy``: a SQLite instance's database into PostgreSQL, resumable.

The target's schema is made by our migrations (:class:`~.pg.PgDatabase`), then each table is
copied in foreign-key order (:mod:`.copy_check`), in batches of SQLite ``rowid`` order, each
batch one PostgreSQL transaction that also records how far the table got in
:data:`STATE_TABLE`, a table the copy keeps in the target (the migrations do not know it).
A copy killed at any moment (Ctrl-C, kill -9) has committed whole batches and their mark
together, so running it again goes on after the last committed row, without duplicates,
and skips the tables marked done. Values go in as :mod:`.pg` writes them: BLOBs as
``bytea``, integers and reals as stored, NUL in text as U+FFFD (counted, so the command can
say which rows changed). Afterwards every ``id`` identity is set past the largest id copied,
so that the server's inserts do not collide with copied rows.

The instance must be stopped: rows written to SQLite after their table is copied would be
missing from the target (the final comparison would say so).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ..errors import StorageError
from .copy_check import Table, TableCheck, compare, nul_free, source_tables
from .db import latest_schema, safe_url
from .pg import PgDatabase

STATE_TABLE = "db_copy_state"
DEFAULT_BATCH = 5000
# Written by the migrations on both sides (PostgreSQL's own bookkeeping), never copied.
NOT_COPIED = frozenset({"schema_version", STATE_TABLE})

#: ``progress(table, rows_done, rows_total, skipped)``, after each committed batch.
Progress = Callable[[str, int, int, bool], None]


@dataclass
class CopyResult:
    """What one run did: rows copied per table, tables skipped as done, NUL replacements."""

    copied: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    nul_rows: dict[str, int] = field(default_factory=dict)
    checks: list[TableCheck] = field(default_factory=list)
    #: Seconds per phase: ``migrate`` (the target's schema), ``copy``, ``check``.
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_copied(self) -> int:
        return sum(self.copied.values())


def open_source(path: Path) -> sqlite3.Connection:
    """The SQLite file, read-only, at the schema this code writes."""
    if not path.exists():
        raise StorageError(f"no database at {path}")
    src = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    version = int(src.execute("PRAGMA user_version").fetchone()[0])
    if version != latest_schema():
        src.close()
        raise StorageError(
            f"{path} is at schema {version}, this version writes {latest_schema()}:"
            " run `fediverse-ai init` with this version first (it migrates)"
        )
    return src


def live_processes(src: sqlite3.Connection, now: float) -> list[str]:
    """Leases that a running web or worker process renews: held ones mean it runs."""
    found = []
    for what, sql in (
        ("running jobs", "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND locked_until > ?"),
        ("held AI slots", "SELECT COUNT(*) FROM slot_leases WHERE expires_at > ?"),
        ("stream readers", "SELECT COUNT(*) FROM stream_readers WHERE expires_at > ?"),
    ):
        count = int(src.execute(sql, (now,)).fetchone()[0])
        if count:
            found.append(f"{count} {what}")
    return found


def migrate_target(url: str) -> int:
    """Create (or bring up to date) our schema in the target, as the server would."""

    async def run() -> int:
        db = PgDatabase(url)
        await db.open()
        try:
            return await db.migrate()
        finally:
            await db.close()

    return asyncio.run(run())


def connect_target(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.Connection.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StorageError(f"cannot open database {safe_url(url)}: {exc}") from exc


def identity(src: sqlite3.Connection) -> str:
    """Which instance the database is: its local actors."""
    rows = src.execute("SELECT uri FROM actors WHERE local = 1 ORDER BY uri").fetchall()
    return " ".join(str(r[0]) for r in rows)


def _pg_identity(conn: psycopg.Connection[Any]) -> str:
    rows = conn.execute("SELECT uri FROM actors WHERE local = 1 ORDER BY uri").fetchall()
    return " ".join(str(r[0]) for r in rows)


def prepare_target(
    conn: psycopg.Connection[Any], tables: list[Table], source: str, *, restart: bool
) -> dict[str, tuple[int, int, bool]]:
    """The copy state (table → last rowid, rows, done) to go on from; refuses a target that
    holds another instance's data, or data this command did not write, unless ``restart``."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (table_name TEXT PRIMARY KEY,"
        " last_rowid BIGINT NOT NULL, copied BIGINT NOT NULL, done BOOLEAN NOT NULL,"
        " source TEXT NOT NULL)"
    )
    if restart:
        names = ", ".join(f'"{t.name}"' for t in tables)
        with conn.transaction():
            conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            conn.execute(f"DELETE FROM {STATE_TABLE}")
        return {}
    state = {
        str(r[0]): (int(r[1]), int(r[2]), bool(r[3]), str(r[4]))
        for r in conn.execute(
            f"SELECT table_name, last_rowid, copied, done, source FROM {STATE_TABLE}"
        )
    }
    others = {s for *_, s in state.values() if s != source}
    target = _pg_identity(conn)
    if others or (target and target != source and not state):
        raise StorageError(
            "the target holds another instance's data (local actors there:"
            f" {target or next(iter(others))}; here: {source or 'none'}): --restart wipes it"
        )
    if not state:
        filled = [
            t.name for t in tables if conn.execute(f'SELECT 1 FROM "{t.name}" LIMIT 1').fetchone()
        ]
        if filled:
            raise StorageError(
                "the target already holds data that `db copy` did not write"
                f" ({', '.join(filled[:5])}{'…' if len(filled) > 5 else ''}): --restart wipes it"
            )
    return {name: (last, copied, done) for name, (last, copied, done, _) in state.items()}


def _copy_table(
    src: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    table: Table,
    start: tuple[int, int],
    *,
    source: str,
    batch: int,
    progress: Progress,
    result: CopyResult,
) -> None:
    last, copied = start
    total = copied + int(
        src.execute(f'SELECT COUNT(*) FROM "{table.name}" WHERE rowid > ?', (last,)).fetchone()[0]
    )
    select = (
        f'SELECT rowid, {table.column_list} FROM "{table.name}"'
        " WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    mark = (
        f"INSERT INTO {STATE_TABLE} (table_name, last_rowid, copied, done, source)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (table_name) DO UPDATE SET"
        " last_rowid = excluded.last_rowid, copied = excluded.copied, done = excluded.done"
    )
    progress(table.name, copied, total, False)
    nul_rows = 0
    while rows := src.execute(select, (last, batch)).fetchall():
        with conn.transaction():
            with (
                conn.cursor() as cur,
                cur.copy(f'COPY "{table.name}" ({table.column_list}) FROM STDIN') as pipe,
            ):
                for row in rows:
                    if any(isinstance(v, str) and "\x00" in v for v in row):
                        nul_rows += 1
                    pipe.write_row([nul_free(v) for v in row[1:]])
            last, copied = int(rows[-1][0]), copied + len(rows)
            conn.execute(mark, (table.name, last, copied, False, source))
        result.copied[table.name] = result.copied.get(table.name, 0) + len(rows)
        progress(table.name, copied, max(total, copied), False)
    conn.execute(mark, (table.name, last, copied, True, source))
    if nul_rows:
        result.nul_rows[table.name] = nul_rows


def reset_identities(conn: psycopg.Connection[Any], tables: list[Table]) -> None:
    """Every ``id`` identity past the largest id copied: the next insert gets a fresh one."""
    for table in tables:
        if table.has_id:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'),"
                f' GREATEST(MAX(id), 1), MAX(id) IS NOT NULL) FROM "{table.name}"'
            )


def copy_database(
    path: Path,
    url: str,
    *,
    batch: int = DEFAULT_BATCH,
    restart: bool = False,
    force: bool = False,
    progress: Progress = lambda *_: None,
) -> CopyResult:
    """Copy the SQLite database at ``path`` into the PostgreSQL database at ``url``, then
    compare every table on both sides (``result.checks``)."""
    if batch < 1:
        raise StorageError("--batch must be at least 1")
    src = open_source(path)
    try:
        running = live_processes(src, time.time())
        if running and not force:
            raise StorageError(
                f"the instance looks running ({', '.join(running)}): stop it first"
                " (--force copies anyway; rows written meanwhile would be missing)"
            )
        result = CopyResult()
        started = time.perf_counter()
        migrate_target(url)
        result.seconds["migrate"] = time.perf_counter() - started
        tables = [t for t in source_tables(src) if t.name not in NOT_COPIED]
        source = identity(src)
        with connect_target(url) as conn:
            state = prepare_target(conn, tables, source, restart=restart)
            # One read transaction: every table as of the same moment.
            src.execute("BEGIN")
            for table in tables:
                last, copied, done = state.get(table.name, (0, 0, False))
                if done:
                    result.skipped.append(table.name)
                    progress(table.name, copied, copied, True)
                    continue
                _copy_table(
                    src, conn, table, (last, copied),
                    source=source, batch=batch, progress=progress, result=result,
                )  # fmt: skip
            reset_identities(conn, tables)
            checked = time.perf_counter()
            result.seconds["copy"] = checked - started - result.seconds["migrate"]
            result.checks = compare(src, conn, tables)
            result.seconds["check"] = time.perf_counter() - checked
            src.execute("COMMIT")
        return result
    finally:
        src.close()


def check_database(path: Path, url: str) -> list[TableCheck]:
    """``db check``: compare the SQLite database with a PostgreSQL copy of it, table by table."""
    src = open_source(path)
    try:
        tables = [t for t in source_tables(src) if t.name not in NOT_COPIED]
        with connect_target(url) as conn:
            return compare(src, conn, tables)
    except psycopg.Error as exc:
        raise StorageError(f"cannot compare with {safe_url(url)}: {exc}") from exc
    finally:
        src.close()
