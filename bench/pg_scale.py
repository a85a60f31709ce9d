"""Benchmark: several worker processes on one PostgreSQL database, against SQLite's single
process, in the same run (issue 15). ``python -m bench.pg_scale`` (``BENCH_QUICK=1``: small),
or ``BENCH_ONLY=pg python -m bench``.

1. Intake: one web-only process (``fediverse-ai run --no-worker``) and 1, 2 and 4
   ``fediverse-ai worker`` processes on one PostgreSQL database; the baseline is
   ``fediverse-ai run`` (embedded worker) on SQLite. Pre-signed Create(Note) requests from 50
   remote actors are replayed over plain HTTP on loopback by :mod:`bench.pg_load` in a process
   of its own (no TLS front: see there). accepted/s = 2xx answers / the replay's time;
   processed/s = activities / time until the last inbox job is done.
2. Fan-out (:mod:`bench.pg_fanout`): one post to F followers on F/10 shared inboxes.
3. CPU: seconds of every process we started (web, workers, sinks, load generator) and of the
   PostgreSQL server (the postmaster, its live children and the children it reaped), read
   from /proc before and after each case, per accepted activity and per delivery.

The PostgreSQL cluster is the tests' throw-away one (tests/support/postgres.py: loopback,
fsync off), one fresh schema per case. The machine's load average is printed with each case:
the cores are shared with whatever else runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import (
    ROOT,
    WORK,
    Proc,
    _cpu_s,
    _tree,
    free_port,
    machine,
    pick,
    ratio,
    start_server,
    table,
    write_result,
)
from .instance import InstanceDir, config_toml
from .load import ChildCPU, make_keys, presign

CONNECTIONS = 32
ACTORS = 50
# Workers poll an empty queue every second (no LISTEN/NOTIFY yet); a shorter poll here keeps
# a worker's first claim from waiting up to a second after the burst starts.
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


# --- 1. intake ------------------------------------------------------------------------------


def _intake_case(pg: Pg, layout: str, workers: int, requests: Path, count: int) -> dict[str, Any]:
    url = None if layout == "sqlite" else pg.url()
    setup = Setup(f"pg-intake-{layout}-{workers}", url, workers == 0, WORKER_EXTRA).init()
    try:
        web = setup.start_web(*(["--no-worker"] if workers else []))
        pool = setup.start_workers(workers)
        time.sleep(1.0)  # past start-up: the CPU counted is the load's
        load_before = loadavg()
        cpu0 = (web.cpu_seconds(), cpu_of(pool), pg.cpu_seconds())
        t0 = time.time()
        argv = [sys.executable, "-m", "bench.pg_load", str(setup.port), str(requests)]
        with ChildCPU() as gen:
            done = subprocess.run(
                [*argv, str(CONNECTIONS)], env=env(), cwd=ROOT, capture_output=True, text=True,
                check=True, timeout=900,
            )  # fmt: skip
        result = json.loads(done.stdout.splitlines()[-1])
        finished = setup.wait_jobs("inbox", result["accepted"], timeout=pick(900, 300))
        processed_s = finished - t0
        cpu1 = (web.cpu_seconds(), cpu_of(pool), pg.cpu_seconds())
        notes = setup.count("SELECT COUNT(*) FROM notes WHERE local = 0")
        failed = setup.count("SELECT COUNT(*) FROM jobs WHERE state = 'failed'")
    finally:
        setup.stop()
    web_s, work_s, pg_s = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    accepted = result["accepted"]
    return {
        "store": layout,
        "workers": workers or "embedded",
        "n": count,
        "accepted/s": accepted / result["seconds"],
        "processed/s": count / processed_s if processed_s else 0.0,
        "p50 ms": result["p50_ms"],
        "p99 ms": result["p99_ms"],
        "errors": result["errors"],
        "lost": accepted - notes,
        "failed jobs": failed,
        "web cpu ms/act": web_s * 1000 / count,
        "worker cpu ms/act": work_s * 1000 / count,
        "pg cpu ms/act": pg_s * 1000 / count,
        "cpu ms/act": (web_s + work_s + pg_s) * 1000 / count,
        "loadgen cpu s": gen.seconds,
        "processed wall s": processed_s,
        "loadavg": load_before,
    }


def run_intake(pg: Pg) -> dict[str, Any]:
    count = pick(6_000, 600)
    WORK.mkdir(parents=True, exist_ok=True)
    remote_port = free_port()
    keys = make_keys(f"127.0.0.1:{remote_port}", ACTORS, scheme="http")
    public = keys.write_public(WORK / "pg-actors.json")
    remote_env = {
        **env(),
        "BENCH_ACTORS": str(public),
        "BENCH_REMOTE_HOST": f"127.0.0.1:{remote_port}",
        "BENCH_REMOTE_SCHEME": "http",
    }
    from . import serve

    argv = serve.command("uvicorn", "bench.apps:remote", remote_port)
    remote = start_server("pg-remote-actors", argv, remote_env, remote_port)
    rows: list[dict[str, Any]] = []
    try:
        cases = [("sqlite", 0), ("postgresql", 1), ("postgresql", 2), ("postgresql", 4)]
        for layout, workers in cases:
            # Fresh requests per case: ids (activity, note) must be new to each database,
            # and the signatures' Date must be recent.
            directory = WORK / "pg-requests"
            shutil.rmtree(directory, ignore_errors=True)
            run = uuid.uuid4().hex[:8]
            presign(keys, "https://a.test/inbox", count, 2, directory, run=run)
            row = _intake_case(pg, layout, workers, directory, count)
            rows.append(row)
            print(
                f"  intake {layout} workers={row['workers']}: {row['accepted/s']:.0f}/s accepted,"
                f" {row['processed/s']:.0f}/s processed, {row['cpu ms/act']:.2f} ms CPU/activity"
                f" (load {row['loadavg']})",
                flush=True,
            )
    finally:
        remote.stop()
    base = rows[0]
    for row in rows:
        row["accepted / sqlite"] = ratio(row["accepted/s"], base["accepted/s"])
        row["processed / sqlite"] = ratio(row["processed/s"], base["processed/s"])
    print(table("Intake: web + N workers on PostgreSQL vs `fediverse-ai run` on SQLite", rows))
    return {"connections": CONNECTIONS, "actors": ACTORS, "rows": rows}


def run() -> dict[str, Any]:
    from . import pg_fanout

    info = machine()
    print(f"pg_scale ({'quick' if info['quick'] else 'full'}): {info}", flush=True)
    only = os.environ.get("BENCH_PG_ONLY", "intake fanout").split()
    data: dict[str, Any] = {"machine": info}
    with postgres() as pg:
        if "intake" in only:
            data["intake"] = run_intake(pg)
        if "fanout" in only:
            data["fanout"] = pg_fanout.run(pg)
    data["loadavg_at_end"] = loadavg()
    write_result("pg_scale", data)
    return data


if __name__ == "__main__":
    run()
