"""Automatic1111Backend against a real server of the A1111 API: stable-diffusion.cpp's
``sd-server`` (``/sdapi/v1/txt2img``) with a zero-weight SDXS checkpoint."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from PIL import Image

from fediverse_ai.ai.a1111_backend import Automatic1111Backend, _model_name
from fediverse_ai.ai.base import BackendError, ImageBackend
from fediverse_ai.netguard import NetGuard

from .servers import RunningServer, free_port

PROMPT = "a lighthouse on a cliff at dusk"


def backend(base_url: str, http: httpx.AsyncClient, guard: NetGuard) -> Automatic1111Backend:
    return Automatic1111Backend(
        base_url=base_url,
        timeout=120.0,
        http=http,
        guard=guard,
        steps=1,
        negative_prompt="blurry, text",
    )


@pytest.mark.slow
async def test_txt2img_round_trip(
    sd_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    """Given sd-server, when the bot asks for a 64x64 picture, then it gets that PNG;
    sd-server's ``info`` is empty, so the model is named after the backend."""
    image_backend = backend(sd_server.base_url, http, loopback_guard)
    assert isinstance(image_backend, ImageBackend)

    result = await image_backend.generate(PROMPT, width=64, height=64)

    with Image.open(io.BytesIO(result.data)) as image:
        assert (image.format, image.size) == ("PNG", (64, 64))
    assert (result.backend, result.model, result.caption) == ("automatic1111", "automatic1111", "")
    await image_backend.aclose()
    assert not http.is_closed


@pytest.mark.slow
async def test_server_rejection_is_permanent_with_its_reason(
    sd_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    with pytest.raises(BackendError) as caught:
        await backend(sd_server.base_url, http, loopback_guard).generate("", width=64, height=64)
    assert caught.value.retryable is False
    assert caught.value.message == "image backend returned HTTP 400: prompt required"


@pytest.mark.slow
async def test_wrong_base_path_is_permanent(
    sd_server: RunningServer, http: httpx.AsyncClient, loopback_guard: NetGuard
) -> None:
    # The A1111 base URL is the server's root; /v1 is the OpenAI API's prefix.
    with pytest.raises(BackendError) as caught:
        await backend(sd_server.base_url + "/v1", http, loopback_guard).generate(
            PROMPT, width=64, height=64
        )
    assert caught.value.retryable is False
    assert caught.value.message.startswith("image backend returned HTTP 404")


async def test_server_down_is_retryable(http: httpx.AsyncClient, loopback_guard: NetGuard) -> None:
    with pytest.raises(BackendError) as caught:
        await backend(f"http://127.0.0.1:{free_port()}", http, loopback_guard).generate(
            PROMPT, width=64, height=64
        )
    assert caught.value.retryable is True


async def test_private_base_url_is_refused(http: httpx.AsyncClient) -> None:
    with pytest.raises(BackendError) as caught:
        await backend("http://192.168.1.20:7860", http, NetGuard()).generate(
            PROMPT, width=64, height=64
        )
    assert caught.value.retryable is False
    assert caught.value.message == "image backend URL refused: address is not public"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (json.dumps({"sd_model_name": "sd_xl_base_1.0", "seed": 1}), "sd_xl_base_1.0"),
        ({"sd_model_name": "dreamshaper_8"}, "dreamshaper_8"),
        ("", "automatic1111"),
        ("not json", "automatic1111"),
        (json.dumps({"sd_model_name": None}), "automatic1111"),
        (None, "automatic1111"),
    ],
)
def test_model_name_comes_from_info(info: object, expected: str) -> None:
    # Real A1111 sends ``info`` as a JSON document inside a string; sd-server sends "".
    assert _model_name(info) == expected
