"""Benchmark: what counting client API calls in the database costs a request (issue 15).

Two apps on one database, the same but for ``[web] api_requests_per_five_minutes``: 0 (no
count at all, which is less than the in-memory counter of before cost: a dict update) and
10^9 (one ``INSERT … ON CONFLICT … DO UPDATE … RETURNING`` per call, ``shared_limits.hit``).
Their requests are timed in alternating rounds in one run (in-process ASGI client,
server-side time: no HTTP server in between, so the ratio is the worst case a real server
shows), and the p50 of each is compared. ``python -m bench.api_limits`` or
``BENCH_ONLY=api_limits python -m bench``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fediverse_ai.app import create_app
from fediverse_ai.config import load_config

from .api import _token
from .common import WORK, free_port, percentile, pick, ratio, table, write_result
from .instance import config_toml
from .web import _seed

CASES = (
    ("GET /api/v1/instance (no token)", "/api/v1/instance", False),
    ("GET /api/v1/accounts/verify_credentials", "/api/v1/accounts/verify_credentials", True),
    ("GET /api/v1/timelines/home?limit=40", "/api/v1/timelines/home?limit=40", True),
)


async def _measure(paths: dict[str, Path], token: str, rounds: int, repeat: int) -> list[Any]:
    times: dict[tuple[str, str], list[float]] = {}
    auth = {"Authorization": f"Bearer {token}"}
    apps = {
        label: create_app(load_config(path), embedded_worker=False) for label, path in paths.items()
    }
    async with apps["off"].test_app() as off_app, apps["on"].test_app() as on_app:
        clients = {"off": off_app.test_client(), "on": on_app.test_client()}
        for _ in range(rounds):
            for label, client in clients.items():
                for name, path, with_token in CASES:
                    headers = auth if with_token else {}
                    for _ in range(repeat):
                        t = time.perf_counter()
                        resp = await client.get(path, headers=headers)
                        await resp.get_data()
                        times.setdefault((label, name), []).append((time.perf_counter() - t) * 1000)
                        assert resp.status_code == 200, (label, path, resp.status_code)
                        assert ("X-RateLimit-Limit" in resp.headers) == (label == "on")
    rows = []
    for name, _, _ in CASES:
        off = percentile(times[("off", name)], 50)
        on = percentile(times[("on", name)], 50)
        rows.append(
            {
                "request": name,
                "p50 ms, not counted": off,
                "p50 ms, counted in the db": on,
                "ratio": ratio(on, off),
                "added µs": (on - off) * 1000,
            }
        )
    return rows


def run() -> dict[str, Any]:
    root = WORK / "api-limits"
    subprocess.run(["rm", "-rf", str(root)], check=True)
    root.mkdir(parents=True)
    port = free_port()
    paths = {"on": root / "config.toml", "off": root / "config-off.toml"}
    paths["on"].write_text(config_toml(port, embedded_worker=False))
    paths["off"].write_text(
        config_toml(port, embedded_worker=False).replace(
            "api_requests_per_five_minutes = 1000000000", "api_requests_per_five_minutes = 0"
        )
    )
    argv = [sys.executable, "-m", "fediverse_ai", "--config", str(paths["on"]), "init"]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    posts = pick(300, 100)
    asyncio.run(_seed(paths["on"], posts))  # a home timeline of full pages
    token = asyncio.run(_token(paths["on"]))
    rounds, repeat = pick(10, 4), pick(100, 50)
    rows = asyncio.run(_measure(paths, token, rounds, repeat))
    title = f"Client API calls counted in the database ({posts} posts, {rounds} × {repeat} each)"
    print(table(title, rows))
    data = {"posts": posts, "rounds": rounds, "repeat": repeat, "rows": rows}
    write_result("api_limits", data)
    return data


if __name__ == "__main__":
    run()
