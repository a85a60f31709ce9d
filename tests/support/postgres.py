"""A throw-away PostgreSQL 15 cluster for the tests: initdb into a temp dir, loopback only.

Debian's ``postgresql-15`` (scripts/install-test-deps.sh) provides the binaries; its own
service is not used. The cluster listens on a free 127.0.0.1 port and a unix socket in its
own directory, runs without fsync (nothing here must survive a crash of the machine), and
is stopped at the end of the session even when tests fail. Each test gets a schema of its
own (``search_path`` in the URL), which is much cheaper than a database per test.

initdb refuses to run as root: as root the cluster runs as the ``postgres`` user the
Debian package creates (or ``nobody``), through ``runuser``; as anyone else, as oneself.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

PG_BIN = Path(os.environ.get("FEDIVERSE_AI_PG_BIN", "/usr/lib/postgresql/15/bin"))
SKIP_ENV = "FEDIVERSE_AI_SKIP_HEAVY"
SUPERUSER = "fediverse"
DATABASE = "fediverse_test"
# Set for the session when FEDIVERSE_AI_TEST_STORE=postgresql: every live_server whose database
# is left at its default gets a fresh schema in this cluster instead of a SQLite file.
SUITE_URL_ENV = "FEDIVERSE_AI_TEST_PG_URL"


@dataclass
class Cluster:
    port: int
    root: Path
    _schemas: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, schema: str | None = None) -> str:
        base = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"
        if schema is None:
            return base
        return f"{base}?options={quote(f'-csearch_path={schema}')}"

    def new_schema(self) -> str:
        """A fresh, empty schema; its URL (:meth:`url`) makes it the only one searched."""
        name = f"t{next(self._schemas)}"
        self.psql(f"CREATE SCHEMA {name}")
        return name

    def psql(self, sql: str, database: str = DATABASE) -> str:
        return _run(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql],
            as_owner=False,
        )  # fmt: skip


def fresh_schema_url(url: str) -> str:
    """A new empty schema in the database at ``url`` (the suite's cluster, handed over in
    :data:`SUITE_URL_ENV`), as a URL that searches only it."""
    import psycopg

    name = f"s{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{url}?options={quote(f'-csearch_path={name}')}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _owner() -> list[str]:
    """The command prefix that runs a cluster command as a user initdb accepts."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"]
    raise RuntimeError("running as root with neither a postgres nor a nobody user")


def _run(cmd: list[str], *, as_owner: bool = True) -> str:
    done = subprocess.run(
        (_owner() if as_owner else []) + cmd, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def require_postgresql() -> None:
    """Fail (never skip silently) when PostgreSQL 15 or psycopg is missing; skip on request."""
    missing = [str(PG_BIN / b) for b in ("initdb", "pg_ctl", "psql") if not (PG_BIN / b).exists()]
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing.append("psycopg (pip install -e '.[postgresql]')")
    if not missing:
        return
    message = f"PostgreSQL tests need {', '.join(missing)}: run `bash scripts/install-test-deps.sh`"
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{message} ({SKIP_ENV}=1)")
    pytest.fail(f"{message} (or set {SKIP_ENV}=1 to skip these tests)", pytrace=False)


@contextmanager
def postgres_cluster() -> Iterator[Cluster]:
    """initdb, start on a free loopback port, create the test database; stop and delete it all
    on the way out, whatever happened in between."""
    require_postgresql()
    # Not under pytest's tmp dir: that is private to the user running pytest, and the cluster's
    # owner (postgres, as root) must reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="fediverse-pg-"))
    data = root / "data"
    port = free_port()
    if os.geteuid() == 0:
        owner = _owner()[2]
        shutil.chown(root, owner)
    started = False
    try:
        _run([str(PG_BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
              "-E", "UTF8", "--locale=C", "--no-sync"])  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200 -c shared_buffers=32MB"
        )
        _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
              "-o", options, "-w", "-t", "60", "start"])  # fmt: skip
        started = True
        cluster = Cluster(port=port, root=root)
        cluster.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
        yield cluster
    finally:
        if started:
            _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)
