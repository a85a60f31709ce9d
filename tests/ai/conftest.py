"""Fixtures for the AI backend tests: real servers, started once per session, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from fediverse_ai.netguard import NetGuard

from .scripted import ScriptedChat
from .servers import (
    RunningServer,
    free_port,
    require_sd_server,
    running,
    sd_server_command,
    write_zero_sdxs,
)


@pytest.fixture(scope="session")
def sd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """stable-diffusion.cpp's ``sd-server`` with a zero-weight SDXS checkpoint."""
    require_sd_server()
    model = tmp_path_factory.mktemp("sd") / "sdxs-zero.safetensors"
    write_zero_sdxs(model)
    port = free_port()
    with running(
        sd_server_command(model, port),
        port=port,
        ready_path="/v1/models",
        log_path=model.with_name(f"sd-server-{port}.log"),
        startup_s=240,
    ) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """Configured like the app's shared client: redirects are followed by hand, or not at all."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=30.0) as client:
        yield client


@pytest.fixture
def loopback_guard() -> NetGuard:
    """The test servers live on 127.0.0.1, which the production guard refuses."""
    return NetGuard(allow_private=True)


@pytest.fixture
def chat() -> Iterator[ScriptedChat]:
    """A scripted OpenAI-compatible model on loopback (tests set ``chat.answers``)."""
    with ScriptedChat(["An answer."]) as server:
        yield server
