"""OpenAITextBackend against a real OpenAI-compatible server: llama-cpp-python's
``llama_cpp.server`` serving a tiny GGUF model written by the test (see ``servers.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from fediverse_ai.ai.base import BackendError, ChatMessage, TextBackend
from fediverse_ai.ai.openai_backend import OpenAITextBackend
from fediverse_ai.netguard import NetGuard

from .servers import (
    LLAMA_API_KEY,
    TINY_MODEL_ALIAS,
    TINY_WORDS,
    RunningServer,
    connection_attempted,
    free_port,
    llama_server_command,
    running,
    silent_listener,
    stop,
)

pytestmark = pytest.mark.slow

PROMPT = [
    ChatMessage(role="system", content="You are a helpful fediverse bot."),
    ChatMessage(role="user", content="@bot say something nice, please"),
]


def backend(
    base_url: str,
    http: httpx.AsyncClient,
    guard: NetGuard,
    *,
    api_key: str | None = LLAMA_API_KEY,
    timeout: float = 60.0,
) -> OpenAITextBackend:
    return OpenAITextBackend(
        base_url=base_url,
        api_key=api_key,
        model=TINY_MODEL_ALIAS,
        timeout=timeout,
        http=http,
        guard=guard,
    )


async def test_completion_round_trip(
    llama_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    """Given the server, when the bot asks for a completion, then it gets the model's words
    and the model name the server reports (llama_cpp.server echoes the requested one)."""
    text_backend = backend(llama_server.base_url + "/v1", http, loopback_guard)
    assert isinstance(text_backend, TextBackend)

    result = await text_backend.complete(PROMPT, max_tokens=8)

    assert result.text and result.text == result.text.strip()
    assert set(result.text.split()) <= set(TINY_WORDS)
    assert result.backend == "openai"
    assert result.model == TINY_MODEL_ALIAS
    await text_backend.aclose()
    assert not http.is_closed  # the shared client belongs to the caller


@pytest.mark.parametrize("max_tokens", [1, 5])
async def test_max_tokens_is_honoured(
    llama_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard, max_tokens: int
) -> None:
    # The tiny model never ends on its own: one word per token, until the budget runs out.
    text_backend = backend(llama_server.base_url + "/v1", http, loopback_guard)
    result = await text_backend.complete(PROMPT, max_tokens=max_tokens)
    assert len(result.text.split()) == max_tokens


async def test_wrong_base_path_is_permanent(
    llama_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    # The base URL must include /v1; without it the server answers 404.
    with pytest.raises(BackendError) as caught:
        await backend(llama_server.base_url, http, loopback_guard).complete(PROMPT, max_tokens=4)
    assert caught.value.retryable is False
    assert "HTTP 404" in caught.value.message


async def test_wrong_api_key_is_permanent_and_not_echoed(
    llama_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    wrong_key = "sk-wrong-key-must-not-leak"
    text_backend = backend(llama_server.base_url + "/v1", http, loopback_guard, api_key=wrong_key)
    with pytest.raises(BackendError) as caught:
        await text_backend.complete(PROMPT, max_tokens=4)
    assert caught.value.retryable is False
    assert "HTTP 401" in caught.value.message
    assert wrong_key not in str(caught.value) and LLAMA_API_KEY not in str(caught.value)
    assert len(caught.value.message) < 260


async def test_stopped_server_is_retryable(
    tiny_gguf: Path, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    """Given a server that answered once, when it stops, then the next call is retryable."""
    port = free_port()
    with running(
        llama_server_command(tiny_gguf, port),
        port=port,
        ready_path="/v1/models",
        log_path=tiny_gguf.with_name(f"llama-server-{port}.log"),
        startup_s=120,
    ) as server:
        text_backend = backend(server.base_url + "/v1", http, loopback_guard, api_key=None)
        assert (await text_backend.complete(PROMPT, max_tokens=2)).text
        stop(server)

        with pytest.raises(BackendError) as caught:
            await text_backend.complete(PROMPT, max_tokens=2)
    assert caught.value.retryable is True
    assert "could not connect" in caught.value.message


async def test_timeout_is_retryable(http: httpx.AsyncClient, loopback_guard: NetGuard) -> None:
    # A server that accepts the connection and never answers: only a raw socket can do that.
    with silent_listener() as listener:
        port = listener.getsockname()[1]
        text_backend = backend(f"http://127.0.0.1:{port}/v1", http, loopback_guard, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(BackendError) as caught:
            await text_backend.complete(PROMPT, max_tokens=4)
        elapsed = time.monotonic() - started
    assert caught.value.retryable is True
    assert "timed out" in caught.value.message
    assert elapsed < 5


async def test_private_base_url_is_refused_before_any_request(http: httpx.AsyncClient) -> None:
    """Given the production guard, a base URL on a non-public address is refused without
    connecting: the listener sees no connection at all."""
    with silent_listener() as listener:
        port = listener.getsockname()[1]
        text_backend = backend(f"http://127.0.0.1:{port}/v1", http, NetGuard())
        with pytest.raises(BackendError) as caught:
            await text_backend.complete(PROMPT, max_tokens=4)
        assert not connection_attempted(listener)
    assert caught.value.retryable is False
    assert caught.value.message == "text backend URL refused: address is not public"
