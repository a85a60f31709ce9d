"""Image backend for the AUTOMATIC1111 web UI API (``/sdapi/v1/txt2img`` and ``img2img``).

The same API is served by AUTOMATIC1111 itself, its forks (Forge, SD.Next) and
stable-diffusion.cpp's ``sd-server``. The plumbing (SSRF guard, deadline, body cap,
error classes) is the OpenAI backend's; only the request and the answer differ.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import httpx

from fediverse_ai.ai.base import BackendError, ImageResult
from fediverse_ai.ai.openai_backend import (
    MAX_IMAGE_RESPONSE_BYTES,
    decode_base64_image,
    decode_image,
    post_json,
)
from fediverse_ai.netguard import NetGuard

__all__ = ["Automatic1111Backend"]

_WHAT = "image backend"


class Automatic1111Backend:
    """txt2img over the A1111 API; one image per call, no API key (A1111 has none by default)."""

    name = "automatic1111"

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        http: httpx.AsyncClient,
        guard: NetGuard,
        steps: int = 20,
        negative_prompt: str = "",
        denoising_strength: float = 0.6,
    ) -> None:
        self._base = base_url.rstrip("/") + "/sdapi/v1/"
        self._timeout = timeout
        self._http = http
        self._guard = guard
        self.steps = steps
        self.negative_prompt = negative_prompt
        # How far an edit may move from the picture: A1111's own default is 0.75, which keeps
        # little of a photo; at 0.6 the asker still recognises their picture.
        self.denoising_strength = denoising_strength

    async def generate(self, prompt: str, *, width: int, height: int) -> ImageResult:
        """Generate one ``width``x``height`` picture of ``prompt``.

        The answer's ``images[0]`` is a base64 PNG. The model's name comes from
        ``info``, a JSON document *inside a string* (``sd_model_name``); servers that
        leave it empty, as ``sd-server`` does, are named "automatic1111".
        """
        payload = {
            "prompt": prompt,
            "negative_prompt": self.negative_prompt,
            "width": width,
            "height": height,
            "steps": self.steps,
        }
        return await self._call("txt2img", payload)

    async def edit(self, image: bytes, prompt: str, *, width: int, height: int) -> ImageResult:
        """img2img: ``image`` (PNG bytes) repainted per ``prompt``."""
        payload = {
            "prompt": prompt,
            "negative_prompt": self.negative_prompt,
            "init_images": [base64.b64encode(image).decode("ascii")],
            "denoising_strength": self.denoising_strength,
            "width": width,
            "height": height,
            "steps": self.steps,
        }
        return await self._call("img2img", payload)

    async def _call(self, endpoint: str, payload: dict[str, Any]) -> ImageResult:
        data = await post_json(
            self._http,
            self._base + endpoint,
            payload,
            guard=self._guard,
            timeout=self._timeout,
            max_bytes=MAX_IMAGE_RESPONSE_BYTES,
            what=_WHAT,
        )
        if not isinstance(data, Mapping):
            raise BackendError(f"{_WHAT} answer is not a JSON object", retryable=False)
        images = data.get("images")
        if not isinstance(images, list) or not images or not isinstance(images[0], str):
            raise BackendError(f"{_WHAT} answer has no images", retryable=False)
        image = decode_base64_image(images[0], what=_WHAT)
        await decode_image(image, what=_WHAT)
        return ImageResult(data=image, backend=self.name, model=_model_name(data.get("info")))

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the caller."""


def _model_name(info: Any) -> str:
    """``sd_model_name`` from A1111's ``info`` (a JSON string, or an object in some forks)."""
    if isinstance(info, str):
        try:
            info = json.loads(info) if info.strip() else None
        except (ValueError, RecursionError):
            info = None
    name = info.get("sd_model_name") if isinstance(info, Mapping) else None
    return name.strip() if isinstance(name, str) and name.strip() else Automatic1111Backend.name
