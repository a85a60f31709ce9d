"""People's data: an account's archive and its re-import, against publishing the same posts
(``BENCH_ONLY=userdata python -m bench``, or ``python -m bench.userdata``).

One user publishes 2,000 posts (one in ten with a 640x480 JPEG) through the publishing
service, timed: the baseline. The archive of the account is then built (``export_to``, what
the ``export_account`` job runs) and imported into a second fresh instance
(``import_archive``, what ``fediverse-ai user import`` runs), both timed; the ratios are per
post against publishing. Both databases live in temporary directories, removed afterwards.
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

from fediverse_ai.accounts import ensure_account
from fediverse_ai.config import load_config
from fediverse_ai.federation import publish
from fediverse_ai.media import process_image
from fediverse_ai.models import Draft, NewAttachment
from fediverse_ai.state import open_state
from fediverse_ai.userdata.archive import export_to
from fediverse_ai.userdata.importer import import_archive

from .common import free_port, pick, ratio, table, write_result
from .instance import config_toml


def _photo(i: int) -> bytes:
    image = Image.new("RGB", (640, 480), (i * 37 % 256, i * 91 % 256, i * 53 % 256))
    image.paste((255 - i % 256, 40, 90), (0, 0, 320, 240))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _instance(tmp: Path, name: str) -> Path:
    config_path = tmp / name / "config.toml"
    config_path.parent.mkdir()
    config_path.write_text(config_toml(free_port(), embedded_worker=False))
    argv = [sys.executable, "-m", "fediverse_ai", "--config", str(config_path), "init"]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return config_path


async def _publish(config_path: Path, posts: int) -> float:
    async with open_state(load_config(config_path)) as state:
        account = await ensure_account(state, "rosa", role="user")
        elapsed = 0.0
        for i in range(posts):
            attachments: tuple[NewAttachment, ...] = ()
            if i % 10 == 0:  # decoding and re-encoding is the upload's cost, not publishing's
                attachments = (process_image(_photo(i)).as_attachment(f"picture {i}"),)
            draft = Draft(
                text=f"Post number {i} about #gardening and more", attachments=attachments
            )
            started = time.perf_counter()
            await publish.publish_note(state, account, draft)
            elapsed += time.perf_counter() - started
        return elapsed


async def _export(config_path: Path, target: Path) -> float:
    async with open_state(load_config(config_path)) as state:
        account = await ensure_account(state, "rosa", role="user")
        started = time.perf_counter()
        await export_to(state, account, target)
        return time.perf_counter() - started


async def _import(config_path: Path, archive: Path) -> tuple[float, int, int]:
    async with open_state(load_config(config_path)) as state:
        account = await ensure_account(state, "rosa", role="user")
        started = time.perf_counter()
        found = await import_archive(state, account, archive)
        return time.perf_counter() - started, found.posts, found.pictures


def run() -> dict[str, Any]:
    posts = pick(2_000, 300)
    with tempfile.TemporaryDirectory(prefix="bench-userdata-") as name:
        tmp = Path(name)
        source, fresh = _instance(tmp, "a"), _instance(tmp, "b")
        publish_s = asyncio.run(_publish(source, posts))
        archive = tmp / "archive.zip"
        export_s = asyncio.run(_export(source, archive))
        import_s, imported, pictures = asyncio.run(_import(fresh, archive))
        size_mb = archive.stat().st_size / 1e6
    assert imported == posts and pictures == (posts + 9) // 10, (imported, pictures)
    rows = [
        {"step": "publish (baseline)", "s": publish_s, "ms/post": publish_s * 1000 / posts,
         "ratio": 1.0},
        {"step": "export", "s": export_s, "ms/post": export_s * 1000 / posts,
         "ratio": ratio(export_s, publish_s)},
        {"step": "import", "s": import_s, "ms/post": import_s * 1000 / posts,
         "ratio": ratio(import_s, publish_s)},
    ]  # fmt: skip
    print(table(f"Archive of {posts:,} posts, {pictures} pictures ({size_mb:.1f} MB)", rows))
    data = {"posts": posts, "pictures": pictures, "archive_mb": size_mb, "rows": rows}
    write_result("userdata", data)
    return data


if __name__ == "__main__":
    run()
