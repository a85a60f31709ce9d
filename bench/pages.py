"""Pages timed server-side through Quart's in-process client, for a signed-in user."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fediverse_ai.state import State
from fediverse_ai.storage import sessions

from .common import free_port
from .instance import config_toml

WARM_UPS = 3


def init_instance(folder: str | Path) -> Path:
    """A fresh instance's config in ``folder`` (no embedded worker), after ``init``."""
    config_path = Path(folder) / "config.toml"
    config_path.write_text(config_toml(free_port(), embedded_worker=False))
    argv = [sys.executable, "-m", "fediverse_ai", "--config", str(config_path), "init"]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return config_path


async def session_token(state: State, actor_id: int) -> str:
    """A browser session for ``actor_id`` (a day long): the cookie's value."""
    token, now = secrets.token_urlsafe(32), state.now()
    await sessions.create(
        state.db,
        token_hash=sessions.token_hash(token),
        actor_id=actor_id,
        csrf_token=secrets.token_urlsafe(24),
        now=now,
        expires_at=now + 86_400,
        user_agent="bench",
    )
    return token


async def time_page(
    client: Any, path: str, headers: dict[str, str], repeat: int
) -> tuple[bytes, list[float]]:
    """The page's body (checked 200), then ``repeat`` timings in ms after the warm-ups."""
    first = await client.get(path, headers=headers)
    body = await first.get_data()
    assert isinstance(body, bytes) and first.status_code == 200, path
    for _ in range(WARM_UPS):
        await client.get(path, headers=headers)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = await client.get(path, headers=headers)
        await response.get_data()
        times.append((time.perf_counter() - t) * 1000)
    return body, times
