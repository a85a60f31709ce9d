"""Benchmark: the streams' channel between processes (issue 15, ``streams.py``).

1. What a publish costs now that it also writes a ``stream_events`` row: while no other
   process reads (the presence check alone), one event per transaction (a worker job
   publishes one), and a burst of events written together, beside one small write
   transaction of the same database (``shared_limits.hit``) as the baseline; and the idle
   reader's query (one every 250 ms while a stream is open).
2. The client API's fan-out (``bench/api.py``: one status to 1,000 open SSE streams, 200 with
   ``BENCH_QUICK``) on copies of one seeded database, alternating this tree and the tree at
   ``BENCH_BEFORE`` (a ``git archive`` of the commit before the change) when it is given.

Run: ``python -m bench.stream_relay`` (``BENCH_ROUNDS``, default 3; ``BENCH_RELAY_DIR`` for the
databases, default under /tmp).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fediverse_ai.storage import shared_limits, stream_events
from fediverse_ai.storage.db import Database
from fediverse_ai.streams import Broker, Notice

from .api import _token
from .common import free_port, pick, table, write_result
from .instance import config_toml
from .web import _seed

EVENTS = 2_000


async def _publish_cost(directory: Path) -> list[dict[str, Any]]:
    async with Database(directory / "publish.sqlite3") as db:
        await db.migrate()
        broker = Broker(db=db)
        rows: list[dict[str, Any]] = []

        async def nobody_reads() -> None:
            quiet = Broker(db=db)
            for i in range(EVENTS):
                quiet.notify(Notice(1, "like", 2, i, float(i)))
                await quiet.flush()

        async def timed(name: str, step: Any, count: int) -> None:
            started = time.perf_counter()
            await step()
            seconds = time.perf_counter() - started
            rows.append({"what": name, "µs per event": round(seconds / count * 1e6, 1)})

        async def one_by_one() -> None:
            for i in range(EVENTS):
                broker.notify(Notice(1, "like", 2, i, float(i)))
                await broker.flush()

        async def burst() -> None:
            for i in range(EVENTS):
                broker.notify(Notice(1, "like", 2, i, float(i)))
            await broker.flush()

        async def baseline() -> None:
            for i in range(EVENTS):
                await shared_limits.hit(db, f"k{i % 50}", now=float(i))

        async def memory_only() -> None:
            local = Broker()
            for i in range(EVENTS):
                local.notify(Notice(1, "like", 2, i, float(i)))

        async def idle_read() -> None:
            last = await stream_events.newest_id(db)
            for _ in range(EVENTS):
                await stream_events.after(db, last, limit=200)

        await timed("baseline: one small write transaction (shared_limits.hit)", baseline, EVENTS)
        await timed("publish, no database (before)", memory_only, EVENTS)
        await timed("publish, no other process reads (no row)", nobody_reads, EVENTS)
        # From here another process reads: every event is written.
        await stream_events.reading(db, "another process", until=time.time() + 3600)
        await timed("publish + its own row transaction", one_by_one, EVENTS)
        await timed(f"publish, {EVENTS:,} rows in one transaction", burst, EVENTS)
        await timed(f"idle reader's query ({EVENTS * 2:,} rows in the table)", idle_read, EVENTS)
        base = rows[0]["µs per event"]
        for row in rows:
            row["× baseline"] = round(row["µs per event"] / base, 2)
        return rows


def _seeded(directory: Path) -> tuple[Path, str]:
    config_path = directory / "config.toml"
    if not config_path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        config_path.write_text(config_toml(free_port(), embedded_worker=False))
        argv = [sys.executable, "-m", "fediverse_ai", "--config", str(config_path), "init"]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
        asyncio.run(_seed(config_path, pick(10_000, 2_000)))
        (directory / "token").write_text(asyncio.run(_token(config_path)))
    return config_path, (directory / "token").read_text()


def _fanout_in(tree: Path, seeded: Path, copy: Path, token: str) -> dict[str, Any]:
    """One fan-out, run by the code of ``tree`` on a fresh copy of the seeded database."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(seeded, copy)
    streams = pick(1000, 200)
    code = (
        "import asyncio, json, sys; from pathlib import Path; from bench.api import _fanout;"
        f" print(json.dumps(asyncio.run(_fanout(Path(sys.argv[1]), sys.argv[2], {streams}))))"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(copy / "config.toml"), token],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the fan-out in {tree} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run() -> dict[str, Any]:
    directory = Path(os.environ.get("BENCH_RELAY_DIR") or tempfile.gettempdir()) / "relay-bench"
    with tempfile.TemporaryDirectory() as scratch:
        publish = asyncio.run(_publish_cost(Path(scratch)))
    print(table("Publishing a stream event (µs per event, same run)", publish))
    config_path, token = _seeded(directory / "seed")
    trees = [("after", Path(__file__).resolve().parents[1])]
    if os.environ.get("BENCH_BEFORE"):
        trees.insert(0, ("before", Path(os.environ["BENCH_BEFORE"])))
    fanouts = []
    for round_ in range(int(os.environ.get("BENCH_ROUNDS", "3"))):
        for name, tree in trees:
            found = _fanout_in(tree, config_path.parent, directory / "copy", token)
            load = os.getloadavg()[0]
            fanouts.append({"round": round_ + 1, "code": name, "load": round(load, 1), **found})
    for row in fanouts:
        for key, value in row.items():
            if isinstance(value, float) and key.endswith("ms"):
                row[key] = round(value, 1)
    print(table("One status to open SSE streams, alternating (ms)", fanouts))
    data = {"publish": publish, "fanout": fanouts}
    write_result("stream_relay", data)
    return data


if __name__ == "__main__":
    run()
