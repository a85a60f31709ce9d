"""The suite's store for tests that name their own database (a CLI config, a parsed config).

``FEDIVERSE_AI_TEST_STORE=postgresql`` sets :data:`~.postgres.SUITE_URL_ENV` for the session
(tests/conftest.py); :func:`suite_database` then answers a fresh schema's URL where a test would
have used a SQLite file, so the CLI processes and parsed configs follow the suite onto
PostgreSQL too. :func:`connect` and :func:`query` read or seed either store directly, with the
tests' SQLite SQL (translated by the store's own dialect on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from fediverse_ai.storage.store import is_postgresql_url

from .postgres import SUITE_URL_ENV, fresh_schema_url

T = TypeVar("T", str, Path)


STORE_ENV = "FEDIVERSE_AI_TEST_STORE"


def on_postgresql() -> bool:
    """Whether this run keeps its test databases on PostgreSQL: the variable the run is started
    with, since markers are evaluated at collection, before the session's cluster exists."""
    return os.environ.get(STORE_ENV) == "postgresql"


def suite_database(default: T) -> T | str:
    """``default`` (a SQLite file), or a fresh schema's URL when the suite runs on PostgreSQL."""
    url = os.environ.get(SUITE_URL_ENV)
    return fresh_schema_url(url) if url else default


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip on a PostgreSQL run, saying why the test needs SQLite (it runs on the SQLite run)."""
    return pytest.mark.skipif(on_postgresql(), reason=f"SQLite only: {reason}")


def _is_url(database: Path | str) -> bool:
    return isinstance(database, str) and is_postgresql_url(database)


@contextlib.contextmanager
def connect(database: Path | str) -> Iterator[sqlite3.Connection]:
    """A connection to either store, committed on a clean exit; SQLite's SQL on both."""
    if not _is_url(database):
        with contextlib.closing(sqlite3.connect(database)) as conn, conn:
            yield conn
        return
    import psycopg

    from fediverse_ai.storage.db import _migrations
    from fediverse_ai.storage.dialect import id_tables
    from fediverse_ai.storage.pg import SyncConnection, _configure

    with psycopg.connect(str(database), autocommit=True) as raw:
        _configure(raw)
        with raw.transaction():
            ids = id_tables(sql for _, sql in _migrations())
            yield cast(sqlite3.Connection, SyncConnection(raw, ids))


def query(database: Path | str, sql: str, params: Sequence[Any] = ()) -> list[tuple[object, ...]]:
    """Every row of ``sql`` as plain tuples (PostgreSQL's rows compare equal to those too)."""
    with connect(database) as conn:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def config_database(config: Path) -> Path | str:
    """What a written config's ``storage.database`` names, resolved as the server resolves it."""
    from fediverse_ai.config import load_config

    return load_config(config).storage.database


@contextlib.contextmanager
def writes_held(database: Path | str) -> Iterator[None]:
    """Another process holding the write lock (a stuck CLI command): every job claim waits
    until the block is left. SQLite: ``BEGIN IMMEDIATE``; PostgreSQL has row locks, not one
    database lock, so the jobs table is locked against writers (plain reads go on)."""
    if not _is_url(database):
        locker = sqlite3.connect(database, isolation_level=None)
        try:
            locker.execute("BEGIN IMMEDIATE")
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    import psycopg

    with (
        psycopg.connect(str(database), autocommit=True) as conn,
        conn.transaction(force_rollback=True),
    ):
        conn.execute("LOCK TABLE jobs IN EXCLUSIVE MODE")
        yield
