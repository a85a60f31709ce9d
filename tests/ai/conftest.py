"""Fixtures for the AI backend tests: real servers, started once per session, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from fediverse_ai.netguard import NetGuard

from .scripted import ScriptedChat
from .servers import (
    LLAMA_API_KEY,
    RunningServer,
    free_port,
    llama_server_command,
    require_llama_vision,
    require_sd_server,
    running,
    sd_server_command,
    write_zero_sdxs,
)
from .vision_models import write_colour_mmproj, write_seeing_gguf


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


@pytest.fixture(scope="session")
def llama_vision_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``llama_cpp.server`` showing pictures to the tiny colour-seeing model through its
    mmproj projector (``vision_models``), with llama-cpp-python's llava-1.5 chat handler."""
    require_llama_vision()
    folder = tmp_path_factory.mktemp("llama-vision")
    model, mmproj = folder / "seeing.gguf", folder / "mmproj.gguf"
    write_seeing_gguf(model)
    write_colour_mmproj(mmproj)
    port = free_port()
    command = llama_server_command(model, port, api_key=LLAMA_API_KEY)
    command += ["--clip_model_path", str(mmproj), "--chat_format", "llava-1-5"]
    with running(
        command,
        port=port,
        ready_path="/v1/models",
        headers={"Authorization": f"Bearer {LLAMA_API_KEY}"},
        log_path=folder / f"llama-vision-{port}.log",
        startup_s=120,
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
