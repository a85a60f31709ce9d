"""The checks every image passes before it reaches the media pipeline (no server needed)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from fediverse_ai.ai.base import BackendError
from fediverse_ai.ai.openai_backend import decode_base64_image, decode_image


def png(width: int = 8, height: int = 4) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(out, format="PNG")
    return out.getvalue()


def test_base64_with_or_without_data_url_prefix() -> None:
    data = png()
    encoded = base64.b64encode(data).decode()
    assert decode_base64_image(encoded, what="image backend") == data
    assert decode_base64_image("data:image/png;base64," + encoded, what="x") == data


def test_invalid_base64_is_permanent() -> None:
    with pytest.raises(BackendError) as caught:
        decode_base64_image("not base64!", what="image backend")
    assert (caught.value.retryable, caught.value.message) == (
        False,
        "image backend returned invalid base64",
    )


async def test_valid_image_reports_format_and_size() -> None:
    assert await decode_image(png(8, 4), what="image backend") == ("PNG", 8, 4)


@pytest.mark.parametrize("data", [b"", b"<html>busy</html>", png()[:40], b"GIF89a" + bytes(20)])
async def test_non_images_and_truncated_images_are_permanent(data: bytes) -> None:
    with pytest.raises(BackendError) as caught:
        await decode_image(data, what="image backend")
    assert caught.value.retryable is False
    assert caught.value.message == "image backend returned data that is not an image"


async def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # an 8x4 picture is "too large" now
    with pytest.raises(BackendError) as caught:
        await decode_image(png(8, 4), what="image backend")
    assert caught.value.message == "image backend returned an image that is too large"
