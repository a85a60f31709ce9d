"""OpenAIImageBackend against a real OpenAI-compatible image server: stable-diffusion.cpp's
``sd-server`` with a zero-weight SDXS checkpoint (flat pictures, real PNGs)."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from fediverse_ai.ai.base import BackendError, ImageBackend
from fediverse_ai.ai.openai_images import OpenAIImageBackend
from fediverse_ai.netguard import NetGuard

from .servers import RunningServer, UrlAnsweringRelay, free_port

pytestmark = pytest.mark.slow

PROMPT = "a lighthouse on a cliff at dusk"


def backend(
    base_url: str, http: httpx.AsyncClient, guard: NetGuard, *, response_format: str = "b64_json"
) -> OpenAIImageBackend:
    return OpenAIImageBackend(
        base_url=base_url,
        api_key=None,
        model="sdxs-test",
        timeout=120.0,
        http=http,
        guard=guard,
        response_format=response_format,
    )


def image_size(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size


async def test_inline_image_round_trip(
    sd_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    """Given sd-server, when the bot asks for a 64x64 picture, then it gets that PNG; the
    server names no model and revises no prompt, so the configured name and no caption."""
    image_backend = backend(sd_server.base_url + "/v1", http, loopback_guard)
    assert isinstance(image_backend, ImageBackend)

    result = await image_backend.generate(PROMPT, width=64, height=64)

    assert image_size(result.data) == ("PNG", (64, 64))
    assert (result.backend, result.model, result.caption) == ("openai", "sdxs-test", "")


async def test_non_square_size_is_passed_on(
    sd_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    result = await backend(sd_server.base_url + "/v1", http, loopback_guard).generate(
        PROMPT, width=128, height=64
    )
    assert image_size(result.data) == ("PNG", (128, 64))


async def test_url_answer_is_fetched_through_the_guard(
    sd_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    """Given a server that answers with a URL and a revised prompt (as OpenAI does), then the
    picture is downloaded from that URL and the revised prompt becomes the caption."""
    with UrlAnsweringRelay(sd_server.base_url) as relay:
        image_backend = backend(relay.base_url + "/v1", http, loopback_guard, response_format="url")
        result = await image_backend.generate(PROMPT, width=64, height=64)

    assert relay.downloads == ["/files/0.png"]
    assert image_size(result.data) == ("PNG", (64, 64))
    assert result.caption == f"A revised prompt: {PROMPT}"


async def test_url_answer_refused_by_the_guard_is_not_fetched(
    sd_server: RunningServer, http: httpx.AsyncClient
) -> None:
    """A URL chosen by the backend gets the same SSRF guard as one chosen by a peer."""
    guard = NetGuard(allow_private=True, blocked_domains=frozenset({"localhost"}))
    with UrlAnsweringRelay(sd_server.base_url, url_host="localhost") as relay:
        image_backend = backend(relay.base_url + "/v1", http, guard, response_format="url")
        with pytest.raises(BackendError) as caught:
            await image_backend.generate(PROMPT, width=64, height=64)

    assert relay.downloads == []
    assert caught.value.retryable is False
    assert caught.value.message == "image URL refused: domain is blocked"


async def test_server_rejection_is_permanent_with_its_reason(
    sd_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    with pytest.raises(BackendError) as caught:
        await backend(sd_server.base_url + "/v1", http, loopback_guard).generate(
            "", width=64, height=64
        )
    assert caught.value.retryable is False
    assert caught.value.message == "image backend returned HTTP 400: prompt required"


async def test_server_down_is_retryable(http: httpx.AsyncClient, loopback_guard: NetGuard) -> None:
    image_backend = backend(f"http://127.0.0.1:{free_port()}/v1", http, loopback_guard)
    with pytest.raises(BackendError) as caught:
        await image_backend.generate(PROMPT, width=64, height=64)
    assert caught.value.retryable is True
    assert caught.value.message == "image backend: could not connect"
