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
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from . import pg_fanout
from .common import (
    ROOT,
    WORK,
    free_port,
    machine,
    pick,
    ratio,
    start_server,
    table,
    write_result,
)
from .load import ChildCPU, make_keys, presign
from .pg_common import ACTORS, CONNECTIONS, WORKER_EXTRA, Pg, Setup, cpu_of, env, loadavg, postgres

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
