"""What the PostgreSQL benchmarks share (bench/pg_scale.py, bench/pg_fanout.py): the throw-away
cluster, an instance directory for web and worker processes, and their CPU and the load."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import (
    ROOT,
    Proc,
    _cpu_s,
    _tree,
    free_port,
    start_server,
)
from .instance import InstanceDir, config_toml

CONNECTIONS = 32
ACTORS = 50
# Measured before LISTEN/NOTIFY, when workers polled an empty queue every second: a shorter
# poll kept a worker's first claim from waiting up to a second after the burst started.
WORKER_EXTRA = "\n[worker]\npoll_interval_seconds = 0.2\n"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out["PYTHONUNBUFFERED"] = "1"
    return out


# --- the PostgreSQL server ------------------------------------------------------------------


@dataclass
class Pg:
    """The throw-away cluster, and the CPU seconds its server processes have used."""

    cluster: Any

    def url(self) -> str:
        return str(self.cluster.url(self.cluster.new_schema()))

    @property
    def postmaster(self) -> int:
        return int((Path(self.cluster.root) / "data" / "postmaster.pid").read_text().split()[0])

    def cpu_seconds(self) -> float:
        """Live processes' CPU plus what the postmaster's reaped children used (a backend's
        time survives its connection)."""
        pid = self.postmaster
        live = sum(_cpu_s(p) for p in _tree(pid))
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return live
        return live + (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def postgres() -> Iterator[Pg]:
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import postgres_cluster

    with postgres_cluster() as cluster:
        yield Pg(cluster)


# --- one installation -----------------------------------------------------------------------


@dataclass
class Setup(InstanceDir):
    """An instance directory on SQLite (``url`` None) or on a PostgreSQL schema, and the
    processes started for it (stopped by their own PIDs)."""

    url: str | None
    embedded_worker: bool
    extra: str = ""
    port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "fediverse_ai", "--config", str(self.config), *args]

    def init(self) -> Setup:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        text = config_toml(self.port, embedded_worker=self.embedded_worker, extra=self.extra)
        if self.url is not None:
            text = text.replace('database = "data/db.sqlite3"', f'database = "{self.url}"')
        self.config.write_text(text)
        subprocess.run(self.cli("init"), check=True, capture_output=True, env=env(), timeout=120)
        return self

    def start_web(self, *args: str) -> Proc:
        proc = start_server(f"{self.name}-web", self.cli("run", *args), env(), self.port)
        self.procs.append(proc)
        return proc

    def start_workers(self, count: int) -> list[Proc]:
        started = [
            Proc(f"{self.name}-worker{k}", self.cli("worker"), env=env(), cwd=self.root).start()
            for k in range(count)
        ]
        self.procs.extend(started)
        deadline = time.monotonic() + 60
        for proc in started:
            while "worker running" not in proc.log_tail():
                if proc.popen is not None and proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{proc.name} did not start:\n{proc.log_tail()}")
                time.sleep(0.05)
        return started

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()

    def count(self, sql: str, params: tuple[object, ...] = ()) -> int:
        if self.url is None:
            path = self.root / "data" / "db.sqlite3"
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            try:
                return int(conn.execute(sql, params).fetchone()[0] or 0)
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            row = pg.execute(sql.replace("?", "%s"), params).fetchone()
            return int(row[0] or 0) if row else 0

    def wait_jobs(self, kind: str, total: int, timeout: float) -> float:
        """Until ``total`` jobs of ``kind`` are done or failed; the time.time() then."""
        deadline = time.monotonic() + timeout
        sql = "SELECT COUNT(*) FROM jobs WHERE kind = ? AND state IN ('done', 'failed')"
        while True:
            finished = self.count(sql, (kind,))
            if finished >= total:
                return time.time()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {finished}/{total} {kind} jobs after {timeout}s")
            time.sleep(0.1)


def cpu_of(procs: list[Proc]) -> float:
    return sum(p.cpu_seconds() for p in procs)
