"""The media store: upload and serve latency with the media directory against a bucket on
moto's S3 server (``python -m bench.media_store``, about a minute, not part of ``make bench``).

One instance per store, in the same run and on the same machine. An upload is what
``uploads.store`` does once the picture is processed (the store's write and the media row;
the decoding before it is the same on both stores and left out); a view is ``GET
/media/<name>`` through the app (in-process ASGI client), which reads the file from the store
and sends it whole. moto is a Python S3 server on loopback: a real MinIO or a bucket across a
network has other figures, so the ratios say what the store's own path costs, not what a
given provider does.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from fediverse_ai import uploads
from fediverse_ai.app import create_app
from fediverse_ai.config import load_config
from fediverse_ai.media import ProcessedImage, process_image
from fediverse_ai.state import State
from fediverse_ai.storage import actors
from tests.support.s3 import moto_s3, new_bucket, store_toml

from .common import free_port, percentile, pick, ratio, table, write_result
from .instance import config_toml


def _photo(side: int, *, noisy: bool) -> ProcessedImage:
    """A processed JPEG: a flat one compresses to a few KB, a noisy one to about a MB."""
    image = Image.effect_noise((side, side), 80).convert("RGB") if noisy else None
    if image is None:
        image = Image.new("RGB", (side, side), (40, 120, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return process_image(out.getvalue())


def _instance(tmp: Path, name: str, extra: str) -> Path:
    config_path = tmp / name / "config.toml"
    config_path.parent.mkdir()
    config_path.write_text(config_toml(free_port(), embedded_worker=False, extra=extra))
    argv = [sys.executable, "-m", "fediverse_ai", "--config", str(config_path), "init"]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return config_path


async def _measure(config_path: Path, pictures: dict[str, ProcessedImage], repeat: int) -> Any:
    app = create_app(load_config(config_path), embedded_worker=False)
    rows = []
    async with app.test_app() as test_app:
        state: State = app.extensions["fediverse_ai.holder"].state
        account = await actors.account_by_username(state.db, "ai")
        assert account is not None
        client = test_app.test_client()
        for label, picture in pictures.items():
            up, down = [], []
            for _ in range(repeat + 3):  # the first three warm the connections up
                t = time.perf_counter()
                media_id = await uploads.store(state, account.actor.id, picture, description="")
                up.append((time.perf_counter() - t) * 1000)
                name = await state.db.fetchval(
                    "SELECT file_name FROM media WHERE id = ?", (media_id,)
                )
                t = time.perf_counter()
                response = await client.get(f"/media/{name}")
                body = await response.get_data()
                down.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200 and len(body) == len(picture.data)
            up, down = up[3:], down[3:]
            rows.append(
                {
                    "picture": label,
                    "KB": len(picture.data) / 1024,
                    "upload p50 ms": percentile(up, 50),
                    "upload p99 ms": percentile(up, 99),
                    "view p50 ms": percentile(down, 50),
                    "view p99 ms": percentile(down, 99),
                }
            )
    return rows


def run() -> dict[str, Any]:
    repeat = pick(100, 20)
    pictures = {
        "flat 640x640 JPEG": _photo(640, noisy=False),
        "noisy 1280x1280 JPEG": _photo(1280, noisy=True),
    }
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-media-store-") as scratch:
        tmp = Path(scratch)
        with moto_s3(tmp / "moto") as endpoint:
            bucket = new_bucket(endpoint)
            configs = {
                "local": _instance(tmp, "local", ""),
                "s3 (moto)": _instance(tmp, "s3", store_toml(bucket, endpoint)),
            }
            for kind, config_path in configs.items():
                rows = asyncio.run(_measure(config_path, pictures, repeat))
                results[kind] = [{"store": kind, **r} for r in rows]
    local = {r["picture"]: r for r in results["local"]}
    compared = [
        {
            "picture": r["picture"],
            "upload x local": ratio(r["upload p50 ms"], local[r["picture"]]["upload p50 ms"]),
            "view x local": ratio(r["view p50 ms"], local[r["picture"]]["view p50 ms"]),
        }
        for r in results["s3 (moto)"]
    ]
    every = [row for rows in results.values() for row in rows]
    print(table(f"Upload and view, {repeat} of each per picture", every))
    print(table("S3 (moto) against the media directory, p50", compared))
    data = {"repeat": repeat, "rows": every, "ratios": compared}
    write_result("media_store", data)
    return data


if __name__ == "__main__":
    run()
