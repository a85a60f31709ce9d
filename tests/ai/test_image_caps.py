"""An image backend that answers with a decompression bomb: a 6300x6300 PNG of 128 KB.

The stand-in is a real OpenAI-compatible HTTP server on loopback; the bot asks it for a
picture, and must answer the mention with its polite failure at once rather than retry a
picture it can never use (or decode half a gigabyte of pixels each time).
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from support.live import live_server
from support.remote import remote_server

from fediverse_ai.bot.replier import FAILURE


@pytest.fixture(scope="module")
def bomb_backend() -> Iterator[str]:
    out = io.BytesIO()
    Image.new("RGB", (6300, 6300), "teal").save(out, format="PNG")
    answer = json.dumps({"data": [{"b64_json": base64.b64encode(out.getvalue()).decode()}]})

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = answer.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_a_bomb_from_the_image_backend_gets_the_failure_reply_once(
    tmp_path: Path, bomb_backend: str
) -> None:
    toml = f"""
[ai.text]
backend = "openai"
base_url = "http://127.0.0.1:9/v1"

[ai.image]
backend = "openai"
base_url = "{bomb_backend}"

[ai.limits]
attempts = 3

[ai.moderation]
enabled = false
"""
    async with remote_server(("alice",)) as remote, live_server(tmp_path, extra_toml=toml) as ours:
        host = ours.config.instance.host
        note, activity = remote.mention("alice", ours.ai.actor, f"@ai@{host}", "draw a lighthouse")
        assert (await remote.send(ours.shared_inbox, activity)).status_code == 202
        await ours.drain()

        job = await ours.state.db.fetchone(
            "SELECT state, attempts FROM jobs WHERE dedupe_key = ?", (f"reply:{note['id']}",)
        )
        assert job is not None and (job["state"], job["attempts"]) == ("done", 1)
        reason = await ours.state.db.fetchval(
            "SELECT reason FROM ai_replies WHERE mention_uri = ?", (note["id"],)
        )
        assert reason.startswith("unusable image: image dimensions too large: 6300x6300")
    replies = [
        post.activity["object"]
        for post in remote.posts(type="Create")
        if post.activity and post.activity["object"].get("inReplyTo") == note["id"]
    ]
    assert len(replies) == 1
    assert FAILURE.split(":")[0] in replies[0]["content"]
    assert not replies[0].get("attachment")
