"""Fixtures for the AI backend tests: real servers, started once per session, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from fediverse_ai.netguard import NetGuard

from .servers import (
    LLAMA_API_KEY,
    RunningServer,
    free_port,
    llama_server_command,
    require_llama_cpp,
    require_sd_server,
    running,
    sd_server_command,
    write_tiny_gguf,
    write_zero_sdxs,
)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_llama_cpp()
    path = tmp_path_factory.mktemp("llama") / "tiny-llama.gguf"
    write_tiny_gguf(path)
    return path


@pytest.fixture(scope="session")
def llama_server(tiny_gguf: Path) -> Iterator[RunningServer]:
    """``python -m llama_cpp.server`` with the tiny model, requiring ``LLAMA_API_KEY``."""
    port = free_port()
    with running(
        llama_server_command(tiny_gguf, port, api_key=LLAMA_API_KEY),
        port=port,
        ready_path="/v1/models",
        headers={"Authorization": f"Bearer {LLAMA_API_KEY}"},
        log_path=tiny_gguf.with_name(f"llama-server-{port}.log"),
        startup_s=120,
    ) as server:
        yield server


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
