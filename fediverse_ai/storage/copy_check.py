"""What ``fediverse-ai db copy`` copies, and how the two sides are compared afterwards.

The tables come from the SQLite file itself, in foreign-key order (``PRAGMA
foreign_key_list``): a row is copied after the rows it refers to, so the target's
constraints hold at every commit and the copy needs no superuser (``session_replication_role``)
nor deferrable constraints, which our migrations do not declare.

A table's checksum is the sum, modulo 2**256, of the SHA-256 of each row's canonical encoding.
A sum does not depend on the order the rows come in: SQLite sorts text by its bytes and a
``nocase`` column case-insensitively, PostgreSQL by its collation, so "the same key order" on
both sides would need a collation rule per key column; a sum of row hashes needs none, and
still changes when a row is missing, duplicated or different.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

import psycopg

from ..errors import StorageError

_MODULUS = 2**256
# Integral floats up to here are exact integers in both dialects' doubles.
_EXACT = 2**53
FETCH_ROWS = 2000


@dataclass(frozen=True)
class Table:
    """One table to copy: its columns in SQLite's order, and whether ``id`` keys it."""

    name: str
    columns: tuple[str, ...]
    has_id: bool

    @property
    def column_list(self) -> str:
        return ", ".join(f'"{c}"' for c in self.columns)


@dataclass(frozen=True)
class TableCheck:
    """Both sides of one table after a copy."""

    name: str
    sqlite_rows: int
    pg_rows: int
    sqlite_sum: str
    pg_sum: str

    @property
    def ok(self) -> bool:
        return self.sqlite_rows == self.pg_rows and self.sqlite_sum == self.pg_sum


def source_tables(src: sqlite3.Connection) -> list[Table]:
    """Every table of the SQLite file (SQLite's own excepted), referenced tables first."""
    names = [
        str(r[0])
        for r in src.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
        )
    ]
    graph: TopologicalSorter[str] = TopologicalSorter()
    for name in names:
        refs = {str(r[2]) for r in src.execute(f'PRAGMA foreign_key_list("{name}")')}
        graph.add(name, *sorted(refs - {name}))
    try:
        order = list(graph.static_order())
    except CycleError as exc:
        raise StorageError(f"the tables' foreign keys form a cycle: {exc.args[1]}") from exc
    tables = []
    for name in order:
        info = src.execute(f'PRAGMA table_info("{name}")').fetchall()
        columns = tuple(str(c[1]) for c in info)
        has_id = any(c[1] == "id" and c[5] == 1 and str(c[2]).upper() == "INTEGER" for c in info)
        tables.append(Table(name, columns, has_id))
    return tables


def nul_free(value: Any) -> Any:
    """The value as the target stores it: PostgreSQL's text cannot hold NUL (storage/pg.py)."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _canonical(value: Any) -> Any:
    """One value, the same whichever dialect it was read from."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        # A REAL column holding 3 reads 3.0 on both sides, but keep the tag for the rest.
        return int(value) if value.is_integer() and abs(value) < _EXACT else {"f": repr(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": bytes(value).hex()}
    return nul_free(value)


def row_hash(row: Sequence[Any]) -> int:
    line = json.dumps([_canonical(v) for v in row], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(line.encode()).digest(), "big")


def checksum(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """(row count, checksum as hex) of ``rows``, in any order."""
    count, total = 0, 0
    for row in rows:
        count += 1
        total = (total + row_hash(row)) % _MODULUS
    return count, f"{total:064x}"


def _sqlite_rows(src: sqlite3.Connection, table: Table) -> Iterable[Sequence[Any]]:
    cur = src.execute(f'SELECT {table.column_list} FROM "{table.name}"')
    while batch := cur.fetchmany(FETCH_ROWS):
        yield from batch


def _pg_rows(conn: psycopg.Connection[Any], table: Table) -> Iterable[Sequence[Any]]:
    with conn.transaction(), conn.cursor(name=f"check_{table.name}") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(f'SELECT {table.column_list} FROM "{table.name}"')
        yield from cur


def compare(
    src: sqlite3.Connection, conn: psycopg.Connection[Any], tables: Iterable[Table]
) -> list[TableCheck]:
    """Row counts and checksums of each table on both sides."""
    checks = []
    for table in tables:
        sqlite_rows, sqlite_sum = checksum(_sqlite_rows(src, table))
        pg_rows, pg_sum = checksum(_pg_rows(conn, table))
        checks.append(TableCheck(table.name, sqlite_rows, pg_rows, sqlite_sum, pg_sum))
    return checks
