"""``fediverse-ai db copy`` and ``db check``: moving a SQLite instance to PostgreSQL."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .config import Config
from .errors import FediverseError

if TYPE_CHECKING:
    from .storage.copy_check import TableCheck

Loader = Callable[[argparse.Namespace], Config]
BAR_WIDTH = 24


class ProgressLine:
    """Per table on stderr: rows done of total and the rate. On a terminal one line redrawn
    in place; otherwise (a log, a pipe) a plain line per committed batch."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._table = ""
        self._started = 0.0
        self._first = 0

    def __call__(self, table: str, done: int, total: int, skipped: bool) -> None:
        now = time.monotonic()
        if table != self._table:
            self._end_line()
            self._table, self._started, self._first = table, now, done
        if skipped:
            self._write(f"{table}: {done} rows, copied before (skipped)", final=True)
            self._table = ""
            return
        elapsed = now - self._started
        rate = (done - self._first) / elapsed if elapsed > 0 else 0.0
        text = f"{table}: {done}/{total} rows, {rate:,.0f} rows/s"
        if self.tty:
            filled = BAR_WIDTH * done // total if total else BAR_WIDTH
            text = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text}"
        self._write(text, final=False)

    def _write(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}" + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self.tty and self._table:
            self.stream.write("\n")

    def close(self) -> None:
        self._end_line()
        self._table = ""


def _sqlite_path(config: Config) -> Path:
    path = config.storage.sqlite_path
    if path is None:
        raise FediverseError(
            "storage.database is already PostgreSQL: `db copy` reads a SQLite file"
        )
    return path


def _target(url: str) -> str:
    from .storage.store import is_postgresql_url

    if not is_postgresql_url(url):
        raise FediverseError(f"{url!r} is not a postgresql:// URL")
    return url


def print_checks(rows: list[TableCheck]) -> int:
    """The comparison table; 0 when every table is equal on both sides, else 1."""
    width = max([len("TABLE"), *(len(c.name) for c in rows)])
    print(f"{'TABLE':<{width}}  {'SQLITE':>8}  {'POSTGRES':>8}  {'SQLITE SUM':<16}  {'PG SUM':<16}")
    for c in rows:
        print(
            f"{c.name:<{width}}  {c.sqlite_rows:>8}  {c.pg_rows:>8}  {c.sqlite_sum[:16]}"
            f"  {c.pg_sum[:16]}  {'OK' if c.ok else 'DIFFERENT'}"
        )
    different = [c.name for c in rows if not c.ok]
    if different:
        print(f"DIFFERENT: {', '.join(different)}")
        return 1
    print(f"all {len(rows)} tables OK")
    return 0


def add_db_commands(sub: Any, *, load: Loader) -> None:
    """Register ``db copy`` and ``db check`` on the top-level subparsers."""

    def cmd_copy(args: argparse.Namespace) -> int:
        from .storage.copy import copy_database
        from .storage.db import safe_url

        config = load(args)
        path = _sqlite_path(config)
        print(f"copying {path} into {safe_url(args.to)} (the instance must be stopped meanwhile)")
        progress = ProgressLine()
        try:
            result = copy_database(
                path, _target(args.to), batch=args.batch, restart=args.restart, force=args.force,
                progress=progress,
            )  # fmt: skip
        except KeyboardInterrupt:
            progress.close()  # the message on a line of its own, after the bar
            print("stopped: the batches committed stay; the same command goes on from there")
            raise
        finally:
            progress.close()
        if result.rows_copied == 0:
            print(
                "nothing to copy: every table was copied before"
                if result.skipped and not result.copied
                else "nothing to copy: no row was left"
            )
        else:
            tables = sum(1 for n in result.copied.values() if n)
            took = result.seconds.get("copy", 0.0)
            rate = f", {result.rows_copied / took:,.0f} rows/s" if took > 0 else ""
            before = f", {len(result.skipped)} tables copied before" if result.skipped else ""
            print(
                f"copied {result.rows_copied} rows in {tables} tables ({took:.1f} s{rate}{before})"
            )
        for table, count in sorted(result.nul_rows.items()):
            print(f"note: {count} rows of {table} held NUL in text, stored as U+FFFD")
        status = print_checks(result.checks)
        if status == 0:
            print(
                f'next: set storage.database = "{safe_url(args.to)}" (with its password) and start'
            )
        return status

    def cmd_check(args: argparse.Namespace) -> int:
        from .storage.copy import check_database

        config = load(args)
        return print_checks(check_database(_sqlite_path(config), _target(args.against)))

    db = sub.add_parser("db", help="move the database: copy a SQLite instance into PostgreSQL")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    copy = db_sub.add_parser(
        "copy", help="copy storage.database (SQLite) into PostgreSQL; resumable; stop the instance"
    )
    copy.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db")
    copy.add_argument("--batch", type=int, default=5000, metavar="N", help="rows per transaction")
    copy.add_argument(
        "--restart", action="store_true", help="wipe the target's tables first, then copy all"
    )
    copy.add_argument(
        "--force", action="store_true", help="copy even though the instance looks running"
    )
    copy.set_defaults(func=cmd_copy)
    check = db_sub.add_parser("check", help="compare storage.database with a PostgreSQL copy")
    check.add_argument("--against", required=True, metavar="URL", help="postgresql://user@host/db")
    check.set_defaults(func=cmd_check)
