"""The image backend for servers that speak the OpenAI HTTP API: generations and edits.

OpenAI, LocalAI and stable-diffusion.cpp's ``sd-server`` serve both endpoints. The plumbing
(SSRF guard, deadline, body caps, error classes) is ``openai_backend``'s; an image URL in an
answer is fetched through the guard like any URL a remote party chose.
"""

from __future__ import annotations

from typing import Any

import httpx

from fediverse_ai.ai.base import BackendError, ImageResult
from fediverse_ai.ai.openai_backend import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_RESPONSE_BYTES,
    answer_field,
    decode_base64_image,
    decode_image,
    first_item,
    is_retryable_status,
    model_name,
    post_json,
)
from fediverse_ai.errors import FetchError, PayloadTooLarge, UnsafeURL
from fediverse_ai.fetcher import FetchLimits, fetch_bytes
from fediverse_ai.netguard import CANNOT_RESOLVE, NetGuard

__all__ = ["OpenAIImageBackend"]


class OpenAIImageBackend:
    """Image generation (``POST {base_url}/images/generations``), one image per call."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout: float,
        http: httpx.AsyncClient,
        guard: NetGuard,
        response_format: str = "b64_json",
    ) -> None:
        self._url = base_url.rstrip("/") + "/images/generations"
        self._edits_url = base_url.rstrip("/") + "/images/edits"
        self._api_key = api_key or None
        self.model = model
        self._timeout = timeout
        self._http = http
        self._guard = guard
        self.response_format = response_format

    async def generate(self, prompt: str, *, width: int, height: int) -> ImageResult:
        """Generate one ``width``x``height`` picture of ``prompt``.

        The answer carries the image inline (``b64_json``) or as a ``url``; a URL is
        fetched through the SSRF guard like any URL a remote party chose. The
        backend's ``revised_prompt`` (DALL-E 3 rewrites prompts) becomes the caption.
        """
        return await self._call(self._url, prompt, width, height, files=None)

    async def _result(self, data: Any) -> ImageResult:
        item = first_item(answer_field(data, "data"), "data")
        inline, url = item.get("b64_json"), item.get("url")
        if isinstance(inline, str) and inline:
            image = decode_base64_image(inline, what="image backend")
        elif isinstance(url, str) and url:
            image = await self._fetch(url)
        else:
            raise BackendError("image backend answer has neither b64_json nor url", retryable=False)
        await decode_image(image, what="image backend")
        caption = item.get("revised_prompt")
        return ImageResult(
            data=image,
            backend=self.name,
            model=model_name(data, self.model),
            caption=caption.strip() if isinstance(caption, str) else "",
        )

    async def edit(self, image: bytes, prompt: str, *, width: int, height: int) -> ImageResult:
        """``POST {base_url}/images/edits``: ``image`` (PNG) changed per ``prompt``, as a
        multipart form like OpenAI's (also served by LocalAI and stable-diffusion.cpp)."""
        files = {"image": ("image.png", image, "image/png")}
        return await self._call(self._edits_url, prompt, width, height, files=files)

    async def _call(
        self,
        url: str,
        prompt: str,
        width: int,
        height: int,
        *,
        files: dict[str, tuple[str, bytes, str]] | None,
    ) -> ImageResult:
        payload = {
            "model": self.model,
            "prompt": prompt,
            "n": 1,
            "size": f"{width}x{height}",
            "response_format": self.response_format,
        }
        data = await post_json(
            self._http,
            url,
            payload,
            guard=self._guard,
            timeout=self._timeout,
            max_bytes=MAX_IMAGE_RESPONSE_BYTES,
            api_key=self._api_key,
            what="image backend",
            files=files,
        )
        return await self._result(data)

    async def _fetch(self, url: str) -> bytes:
        try:
            fetched = await fetch_bytes(
                self._http,
                url,
                guard=self._guard,
                accept="image/*",
                limits=FetchLimits(total_timeout=self._timeout),
                max_bytes=MAX_IMAGE_BYTES,
            )
        except UnsafeURL as exc:
            raise BackendError(
                f"image URL refused: {exc.message}", retryable=exc.message == CANNOT_RESOLVE
            ) from None
        except PayloadTooLarge:
            raise BackendError("image backend's image is too large", retryable=False) from None
        except FetchError as exc:
            retryable = exc.http_status is None or is_retryable_status(exc.http_status)
            raise BackendError(
                f"image download failed: {exc.message}", retryable=retryable
            ) from None
        return fetched.body

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the caller."""
