"""Blurhash placeholders: CPU per new value and per repeated value (``python -m bench.blurhash``).

Anybody may ask ``/blurhash/<value>.png`` for any valid value, and each new one is decoded on
the event loop, so the figure that matters is CPU time per *unique* value. Measured twice:
the renderer alone (``placeholder_png``, cache cleared per value) and a whole GET through the
app (Quart's in-process test client, as ``bench/web.py`` times pages), beside a GET of an
invalid value (a 404 with the same routing and session work) as the baseline. Process CPU
time, not wall time, so the figures hold on a busy machine. Everything lives in a temporary
directory. Not part of ``make bench``: it takes about 20 seconds and has no target.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fediverse_ai.app import create_app
from fediverse_ai.blurhash_png import _ALPHABET, is_valid, placeholder_png
from fediverse_ai.config import load_config

from .common import free_port, table
from .instance import config_toml

# (x, y) components: ours (4x3), Mastodon's (4x4), and the largest the length cap lets through.
SHAPES = ((4, 3), (4, 4), (7, 6))


def random_hash(nx: int, ny: int, rng: random.Random) -> str:
    flag = _ALPHABET[(nx - 1) + (ny - 1) * 9]
    value = flag + "".join(rng.choice(_ALPHABET) for _ in range(1 + 4 + 2 * (nx * ny - 1)))
    assert is_valid(value)
    return value


def _cpu_ms_each(fn: Any, items: list[Any]) -> float:
    start = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - start) * 1000 / len(items)


def renderer_rows(count: int) -> list[dict[str, Any]]:
    rng = random.Random(17)
    rows = []
    for nx, ny in SHAPES:
        values = [random_hash(nx, ny, rng) for _ in range(count)]
        placeholder_png.cache_clear()
        unique = _cpu_ms_each(placeholder_png, values)
        repeated = _cpu_ms_each(placeholder_png, values * 10)
        rows.append(
            {
                "shape": f"{nx}x{ny} ({len(values[0])} chars)",
                "new value, CPU ms": unique,
                "repeated, CPU ms": repeated,
            }
        )
    return rows


async def request_rows(config_path: Path, count: int) -> list[dict[str, Any]]:
    app = create_app(load_config(config_path), embedded_worker=False)
    rng = random.Random(23)
    values = [random_hash(4, 3, rng) for _ in range(count)]
    async with app.test_app() as test_app:
        client = test_app.test_client()

        async def cpu_ms_each(paths: list[str], status: int) -> float:
            start = time.process_time()
            for path in paths:
                response = await client.get(path)
                await response.get_data()
                assert response.status_code == status, (path, response.status_code)
            return (time.process_time() - start) * 1000 / len(paths)

        paths = [f"/blurhash/{quote(v, safe='')}.png" for v in values]
        await cpu_ms_each(["/blurhash/not-a-hash.png"] * 50, 404)  # warm-up
        invalid = await cpu_ms_each(["/blurhash/not-a-hash.png"] * count, 404)
        placeholder_png.cache_clear()
        unique = await cpu_ms_each(paths, 200)
        repeated = await cpu_ms_each(paths * 3, 200)
    return [
        {"GET /blurhash/<4x3>.png": "invalid value (404), baseline", "CPU ms": invalid},
        {"GET /blurhash/<4x3>.png": "new value", "CPU ms": unique},
        {"GET /blurhash/<4x3>.png": "repeated value", "CPU ms": repeated},
    ]


def run(count: int = 300) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-blurhash-") as tmp:
        config_path = Path(tmp) / "config.toml"
        config_path.write_text(config_toml(free_port(), embedded_worker=False))
        argv = [sys.executable, "-m", "fediverse_ai", "--config", str(config_path), "init"]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
        renderer = renderer_rows(count)
        requests = asyncio.run(request_rows(config_path, count))
    print(table("placeholder_png (renderer alone)", renderer))
    print(table("whole request, in-process test client", requests))
    return {"renderer": renderer, "requests": requests}


if __name__ == "__main__":
    run()
