"""Wake-ups between processes on PostgreSQL: LISTEN/NOTIFY (issue 15).

A job queued by one process (a web-only ``fediverse-ai run --no-worker``, another worker)
and a stream event stored by one must not wait for the others' next poll. On PostgreSQL a
trigger sends ``NOTIFY`` when rows are added to ``jobs`` or ``stream_events``: inside the
inserting transaction, so it is delivered when (and only if) that transaction commits, and
from every place that inserts (the repositories' several ``INSERT INTO jobs`` alike), which a
call in each repository function would not guarantee. Each listening process holds one
dedicated autocommit connection per channel (:func:`listen`); one that drops is opened again
with backoff, and the process reports it (:class:`Heard`), so that its loops poll as before
until it is back and look once at what they may have missed.

The channels are per schema (``fediverse_ai_jobs.<schema>``): two instances, or two tests, in
one database do not wake each other. SQLite is one process: :meth:`Database.listen` there
never yields, and the in-process wake-ups (``State.work_queued``) are all there is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

JOBS = "fediverse_ai_jobs"
STREAMS = "fediverse_ai_streams"
# A LISTEN connection that cannot be opened is tried again after this, doubling up to the max.
RECONNECT_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 10.0
# A connection that went away without a word (a dead peer, a firewall) is found out by a ping
# after this much silence, rather than waiting for TCP to give up.
PING_SECONDS = 30.0
APPLICATION_NAME = "fediverse-ai listen"

# The channel a table's trigger notifies; the same expression names it for LISTEN (with
# current_schema(), the schema the migrations created the tables in). 63 bytes is the longest
# channel name PostgreSQL takes.
_CHANNEL = "left({base} || '.' || {schema}, 63)"


def channel_query(base: str) -> str:
    """SQL answering the channel name ``base`` has in the connection's schema."""
    return "SELECT " + _CHANNEL.format(base=f"'{base}'", schema="current_schema()")


_TABLES = {"jobs": JOBS, "stream_events": STREAMS}
_NAME = "fediverse_ai_notify_"


def _function(table: str, base: str) -> str:
    channel = _CHANNEL.format(base=f"'{base}'", schema="TG_TABLE_SCHEMA")
    return (
        f"CREATE OR REPLACE FUNCTION {_NAME}{table}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN PERFORM pg_notify({channel}, ''); RETURN NULL; END $$"
    )


def _trigger(table: str) -> str:
    # Per row, so that it fires only for rows added (not for a duplicate job that ``ON
    # CONFLICT DO NOTHING`` skipped); the identical notifications of one transaction reach the
    # listeners once. A statement-level trigger with a transition table to look for added
    # rows cost an enqueue more (BENCHMARKS.md, "Wake-ups across processes").
    return (
        f"CREATE OR REPLACE TRIGGER {_NAME}{table} AFTER INSERT ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION {_NAME}{table}()"
    )


def install(conn: psycopg.Connection[Any]) -> None:
    """Create the triggers (every PostgreSQL migrate, after the migrations: DDL the SQLite
    migrations cannot hold). The functions are replaced each time, which locks nothing; a
    trigger only when missing, as creating one locks its table against writers."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid"
        " WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname LIKE %s",
        (_NAME + "%",),
    ).fetchall()
    present = {row[0] for row in rows}
    for table, base in _TABLES.items():
        conn.execute(_function(table, base))
        if table not in present:
            conn.execute(_trigger(table))


@dataclass(frozen=True)
class Heard:
    """What a listener reports: a notification (``payload``), or that its connection opened
    (``listening``) or dropped (not ``listening``), with ``payload`` None: anything sent while
    it was down was missed, so whoever listens should look now."""

    payload: str | None
    listening: bool


async def listen(url: str, base: str) -> AsyncIterator[Heard]:
    """Notifications on ``base``'s channel, forever, over a connection of its own that is
    opened again whenever it drops (never raising: the worker must not die of it)."""
    import psycopg
    from psycopg import sql

    delay = RECONNECT_SECONDS
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(
                url, autocommit=True, connect_timeout=10, application_name=APPLICATION_NAME
            )
        except (psycopg.Error, OSError) as exc:
            log.warning("cannot LISTEN on %s: %s (again in %.1f s)", base, exc, delay)
        else:
            listening = False
            try:
                async with conn:
                    cur = await conn.execute(channel_query(base))
                    row = await cur.fetchone()
                    channel = str(row[0]) if row else base
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    delay = RECONNECT_SECONDS
                    listening = True
                    yield Heard(None, listening=True)
                    while True:
                        async for note in conn.notifies(timeout=PING_SECONDS):
                            yield Heard(note.payload, listening=True)
                        await conn.execute("SELECT 1")
            except (psycopg.Error, OSError) as exc:
                log.warning("the LISTEN connection for %s dropped: %s", base, exc)
            if listening:
                yield Heard(None, listening=False)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX_SECONDS)
