"""A user's session end to end through the JavaScript clients Elk and Whalebird are built on,
masto.js and megalodon (``tests/client_api/js``, installed by ``make test-deps``), against a
live instance: a token from the scripted OAuth flow, an image posted with alt text, a mention
of the AI whose answer arrives through the streaming API, the home and local timelines.

Skipped, saying why, without node or without the installed packages."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support.live import LiveServer, live_server

from .support import user_token

JS = Path(__file__).parent / "js"
SESSION_TIMEOUT_S = 180


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    for package in ("masto", "megalodon", "ws"):
        if not (JS / "node_modules" / package).is_dir():
            return f"tests/client_api/js/node_modules/{package} is missing: run make test-deps"
    return None


async def _session(server: LiveServer, library: str, token: str, image: Path) -> dict[str, Any]:
    """Run the script; run the worker once it has asked the AI; return its final report."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(JS / "session.mjs"),
        library,
        server.base_url,
        token,
        str(image),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: asyncio.Queue[bytes] = asyncio.Queue()

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            await lines.put(line)
        await lines.put(b"")

    reader = asyncio.create_task(read())
    asked = False
    try:
        async with asyncio.timeout(SESSION_TIMEOUT_S):
            while True:
                try:
                    line = await asyncio.wait_for(lines.get(), 0.2)
                except TimeoutError:
                    if asked:
                        await server.drain()  # the AI's answer, as the worker would
                    continue
                if not line:
                    stderr = await proc.stderr.read() if proc.stderr else b""
                    raise AssertionError(f"{library} session ended early: {stderr.decode()}")
                if not line.startswith(b"{"):
                    print(library, line.decode(errors="replace").rstrip())  # the library's log
                    continue
                doc = json.loads(line)
                if doc["event"] == "asked":
                    asked = True
                elif doc["event"] == "error":
                    raise AssertionError(f"{library}: {doc['error']}")
                elif doc["event"] == "done":
                    return dict(doc)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        reader.cancel()


@pytest.mark.parametrize("library", ["masto", "megalodon"])
async def test_a_session_with_a_javascript_client(tmp_path: Path, library: str) -> None:
    missing = _missing()
    if missing:
        pytest.skip(missing)
    image = tmp_path / "square.png"
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (20, 160, 60)).save(buf, "PNG")
    image.write_bytes(buf.getvalue())
    async with live_server(tmp_path / "server") as server:
        _, token = await user_token(server, "alice")
        report = await _session(server, library, token, image)
    assert report["acct"] == "alice"
    assert report["media"]["type"] == "image"
    assert report["media"]["description"] == "a green square"
    (attached,) = report["posted"]["media"]
    assert attached["id"] == report["media"]["id"]
    assert report["notification"] == {
        "type": "mention",
        "bot": True,
        "in_reply_to": report["asked"],
    }
    assert report["posted"]["id"] in report["home"] and report["asked"] in report["home"]
    assert report["posted"]["id"] in report["local"]
