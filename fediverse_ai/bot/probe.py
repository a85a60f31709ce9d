"""The admin's "test backend" button: one small request to the configured backend, timed."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from PIL import Image

from ..ai.base import BackendError, ChatMessage
from ..state import State
from .services import get_services

# SmolLM2-135M, the offline default, answered "at most ten words" with "I can't add a response
# with less than ten words" every time; a plain request in the tone of a chat it answers.
PROBE_SYSTEM = "You are a friendly assistant. Answer in one short sentence."
PROBE_PROMPT = "Say hello to the administrator of this server."


@dataclass(frozen=True)
class ProbeResult:
    kind: str
    ok: bool
    backend: str
    model: str
    detail: str  # the answer, the image size, or the error: safe to show to the admin
    seconds: float


async def probe(state: State, kind: str) -> ProbeResult:
    services = get_services(state)
    started = time.perf_counter()
    try:
        if kind == "text":
            result = await services.text.complete(
                [ChatMessage("system", PROBE_SYSTEM), ChatMessage("user", PROBE_PROMPT)],
                max_tokens=40,
            )
            return ProbeResult(
                "text",
                True,
                result.backend,
                result.model,
                result.text.strip()[:300],
                time.perf_counter() - started,
            )
        image = await services.image.generate(
            "a small colourful test pattern", width=256, height=256
        )
        with Image.open(io.BytesIO(image.data)) as img:
            size = f"{img.width}×{img.height} {img.format}, {len(image.data)} bytes"
        return ProbeResult(
            "image", True, image.backend, image.model, size, time.perf_counter() - started
        )
    except BackendError as exc:
        backend = services.text.name if kind == "text" else services.image.name
        return ProbeResult(kind, False, backend, "", exc.message, time.perf_counter() - started)
