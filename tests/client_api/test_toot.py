"""The ``toot`` CLI (PyPI, the ``test`` extra) against a live instance, run through its entry
point with a config file naming our instance and a token from the scripted OAuth flow: post
(with an image and its alt text), the home timeline, and the notifications, the AI's answer
among them."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from support.live import LiveServer, live_server

from .support import user_token


def _config(server: LiveServer, client: Any, token: str, home: Path) -> dict[str, str]:
    """toot's config.json (apps by instance, users by user@instance) under XDG_CONFIG_HOME."""
    instance = urlsplit(server.base_url).netloc
    config = {
        "apps": {
            instance: {
                "instance": instance,
                "base_url": server.base_url,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            }
        },
        "users": {
            f"alice@{instance}": {"instance": instance, "username": "alice", "access_token": token}
        },
        "active_user": f"alice@{instance}",
    }
    (home / "toot").mkdir(parents=True)
    (home / "toot" / "config.json").write_text(json.dumps(config))
    return {**os.environ, "XDG_CONFIG_HOME": str(home)}


async def _toot(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toot",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


async def test_post_timeline_and_notifications_with_toot(tmp_path: Path) -> None:
    if importlib.util.find_spec("toot") is None:
        pytest.skip("toot is not installed (the test extra has it)")
    picture = tmp_path / "moss.png"
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (40, 140, 40)).save(buf, "PNG")
    picture.write_bytes(buf.getvalue())
    async with live_server(tmp_path / "server") as server:
        client, token = await user_token(server, "alice")
        env = _config(server, client, token, tmp_path / "xdg")
        posted = json.loads(
            await _toot(
                env,
                "post",
                "moss, from toot",
                "--media",
                str(picture),
                "--description",
                "green moss",
                "--json",
            )
        )
        assert posted["content"] == "<p>moss, from toot</p>"
        (attached,) = posted["media_attachments"]
        assert attached["description"] == "green moss" and attached["type"] == "image"
        asked = json.loads(await _toot(env, "post", "@ai is moss a plant?", "--json"))
        for _ in range(6):
            if not await server.drain():
                break
        home = json.loads(await _toot(env, "timelines", "home", "--json"))
        assert {posted["id"], asked["id"]} <= {s["id"] for s in home}
        notifications = json.loads(await _toot(env, "notifications", "--json"))
        answers = [n for n in notifications if n["account"]["acct"] == "ai"]
        assert answers and {n["type"] for n in answers} == {"mention"}
        # A long answer is a self-threaded chain: its first post answers the question.
        assert [n for n in answers if n["status"]["in_reply_to_id"] == asked["id"]]
        plain = await _toot(env, "timeline", "--once")  # rendered from its parsed entities
        assert "moss, from toot" in plain
