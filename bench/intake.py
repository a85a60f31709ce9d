"""Benchmark 1: inbox intake and processing through the TLS front, against the ceiling.

The same pre-signed Create(Note) requests (from M remote actors whose documents and keys
``b.test`` serves) are replayed by wrk at concurrency C through nginx to:

* the bare-Quart ceiling on each ASGI server (reads the body, answers 202);
* ``fediverse-ai run`` as shipped (the main run: N activities, memory before and after);
* our app on each ASGI server, with the embedded worker and with a separate worker process.

accepted/s = 202s / wrk's wall time; processed/s = activities / time until the last inbox
job is done (from the first request); "lost" = sent − stored − failed jobs.
"""

from __future__ import annotations

import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from . import bovine, serve
from .common import WORK, free_port, percentile, pick, ratio, start_server, table, write_result
from .instance import Instance
from .load import presign, run_wrk
from .net import Net

THREADS = 2
CONNECTIONS = 32


def servers() -> list[str]:
    found = ["uvicorn", "hypercorn"]
    if (serve.BENCH_SITE / "uvloop").is_dir():
        found.insert(1, "uvicorn-uvloop")
    if Path(sys.executable).with_name("granian").exists():
        found.append("granian")
    return found


def run_server() -> str:
    """The bare ceiling `fediverse-ai run` is compared with: uvicorn picks uvloop and
    httptools by itself when they are installed (they are project dependencies)."""
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        return "uvicorn"
    return "uvicorn-uvloop"


def _bare(net: Net, server: str, requests: Any, count: int) -> dict[str, Any]:
    """``server`` may be ``SERVER*N``: N processes on one socket."""
    port = free_port()
    name, _, processes = server.partition("*")
    proc = start_server(
        f"bare-{server}",
        serve.command(name, "bench.apps:bare", port, workers=int(processes or 1)),
        serve.env_for(name),
        port,
    )
    try:
        net.route(port)
        net.tls.clear_log()
        result = run_wrk("https://a.test/", requests, threads=THREADS, connections=CONNECTIONS)
        cpu = proc.cpu_seconds()
    finally:
        proc.stop()
    return {
        "app": "bare Quart",
        "server": server,
        "n": count,
        "accepted/s": result.rate,
        "p50 ms": percentile(net.tls.post_latencies_ms(), 50),
        "p99 ms": percentile(net.tls.post_latencies_ms(), 99),
        "skipped": result.skipped,
        "errors": result.errors,
        "server cpu s": cpu,
        "wrk cpu s": result.cpu_s,
        "wall s": result.seconds,
    }


def _ours(net: Net, layout: str, requests: Any, count: int) -> dict[str, Any]:
    inst = Instance(f"intake-{layout}", layout, env=net.ssl_env)
    inst.init()
    inst.start()
    try:
        time.sleep(2.0)  # settle: the idle figure is after start-up, before any request
        rss_idle = inst.rss_mb()
        net.route(inst.port)
        net.tls.clear_log()
        t0 = time.time()
        result = run_wrk("https://a.test/", requests, threads=THREADS, connections=CONNECTIONS)
        done_at = inst.wait_jobs("inbox", result.accepted, timeout=pick(900, 300))
        processed_s = done_at - t0
        rss_after = inst.rss_mb()
        cpu = inst.cpu_seconds()
        stored = inst.count("SELECT COUNT(*) FROM activities WHERE local = 0")
        notes = inst.count("SELECT COUNT(*) FROM notes WHERE local = 0")
        failed = inst.count("SELECT COUNT(*) FROM jobs WHERE state = 'failed'")
        db_bytes = inst.db_bytes()
    finally:
        inst.stop()
    return {
        "app": "fediverse-ai",
        "server": layout,
        "n": count,
        "accepted/s": result.rate,
        "processed/s": count / processed_s if processed_s else 0.0,
        "p50 ms": percentile(net.tls.post_latencies_ms(), 50),
        "p99 ms": percentile(net.tls.post_latencies_ms(), 99),
        "skipped": result.skipped,
        "errors": result.errors,
        "lost": result.accepted - notes,
        "stored": stored,
        "failed jobs": failed,
        "rss idle MB": rss_idle,
        "rss after MB": rss_after,
        "db MB/10k": db_bytes / 1e6 * 10_000 / max(count, 1),
        "server cpu s": cpu,
        "wrk cpu s": result.cpu_s,
        "wall s": result.seconds,
        "processed wall s": processed_s,
    }


def run(net: Net) -> dict[str, Any]:
    main_n = pick(20_000, 2_000)
    var_n = pick(3_000, 800)
    bare_n = pick(5_000, 1_000)
    run_id = uuid.uuid4().hex[:8]
    big = WORK / "requests-main"
    small = WORK / "requests-var"
    bare = WORK / "requests-bare"
    signing = {}
    for directory, count in ((big, main_n), (small, var_n), (bare, bare_n)):
        shutil.rmtree(directory, ignore_errors=True)
        signing[directory.name] = presign(
            net.keys, "https://a.test/inbox", count, THREADS, directory, run=run_id + directory.name
        )
    rows: list[dict[str, Any]] = []
    ceilings: dict[str, float] = {}
    for server in [*servers(), f"{servers()[1]}*2"]:
        row = _bare(net, server, bare, bare_n)
        ceilings[server] = row["accepted/s"]
        rows.append(row)
        print(f"  bare {server}: {row['accepted/s']:.0f}/s", flush=True)
    main = _ours(net, "run", big, main_n)
    rows.append(main)
    print(f"  fediverse-ai run: {main['accepted/s']:.0f}/s, {main['processed/s']:.0f}/s processed")
    bovine_row = bovine.run(net, ceilings, THREADS, CONNECTIONS)
    rows.append(bovine_row)
    print(f"  bovine-herd: {bovine_row.get('accepted/s', '-')}/s accepted", flush=True)
    fast = servers()[1]
    # Layouts: each server with the embedded worker; a separate worker process; two web
    # processes on one socket (uvicorn's supervisor), with and without a separate worker.
    for layout in [*servers(), f"{fast}+worker", f"{fast}*2", f"{fast}*2+worker"]:
        row = _ours(net, layout, small, var_n)
        rows.append(row)
        accepted, processed = row["accepted/s"], row["processed/s"]
        print(f"  {layout}: {accepted:.0f}/s accepted, {processed:.0f}/s processed", flush=True)
    for row in rows:
        if row["app"] != "fediverse-ai":
            continue
        server = row["server"].split("+")[0]
        if server == "run":  # what `fediverse-ai run` serves with: uvicorn, uvloop + httptools
            server = run_server()
        base = ceilings.get(server, float("nan"))
        row["accepted/ceiling"] = ratio(row["accepted/s"], base)
        row["processed/ceiling"] = ratio(row["processed/s"], base)
    print(table("Inbox intake (signed Create(Note), TLS front, c=32)", rows))
    data = {
        "connections": CONNECTIONS,
        "wrk_threads": THREADS,
        "remote_actors": len(net.keys.private),
        "presign_seconds": signing,
        "ceilings": ceilings,
        "rows": rows,
    }
    write_result("intake", data)
    return data
