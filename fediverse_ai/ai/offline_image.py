"""The offline image backend: pictures painted from the prompt (``procedural``), and edits of
the asker's picture by classic filters (``filters``). Pillow only: no model, no network."""

from __future__ import annotations

import asyncio

from fediverse_ai.ai.base import ImageResult
from fediverse_ai.ai.filters import FILTER_LABEL, apply_filter
from fediverse_ai.ai.procedural import MODEL_LABEL, render

__all__ = ["ProceduralImageBackend"]


class ProceduralImageBackend:
    """The offline image backend: a landscape painted from the prompt, deterministic per prompt."""

    name = "procedural"

    async def generate(self, prompt: str, *, width: int, height: int) -> ImageResult:
        """Paint in a worker thread: it is CPU-bound (0.2-0.5 s on one core up to 1536 px)."""
        data, caption = await asyncio.to_thread(render, prompt, width, height)
        return ImageResult(data=data, backend=self.name, model=MODEL_LABEL, caption=caption)

    async def edit(self, image: bytes, prompt: str, *, width: int, height: int) -> ImageResult:
        """A classic filter of the picture, named in the caption (``filters``)."""
        data, caption = await asyncio.to_thread(apply_filter, image, prompt, width, height)
        return ImageResult(data=data, backend=self.name, model=FILTER_LABEL, caption=caption)

    async def aclose(self) -> None:
        """Nothing to release: there is no model and no connection."""
