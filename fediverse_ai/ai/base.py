"""The interfaces every AI backend implements, and the values they exchange.

The bot sees only these protocols; which concrete backend answers (an
OpenAI-compatible server, AUTOMATIC1111, the offline defaults) is chosen in the
config and built once at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    # Pictures the model is shown with this message, as ``data:`` URLs; only backends that
    # see images (``ai.text.vision``) are given any.
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextResult:
    text: str
    backend: str  # e.g. "openai", "offline"
    model: str  # e.g. "gpt-4o-mini", "SmolLM2-135M-Instruct (Q4_1)"
    tokens: int = 0  # tokens generated, where the backend counts them (the offline one does)


@dataclass(frozen=True)
class ImageResult:
    data: bytes  # encoded image (PNG/JPEG/WebP), to go through the media pipeline
    backend: str
    model: str
    caption: str = ""  # a short description of the picture, when the backend gives one


class BackendError(Exception):
    """A backend failed (timeout, bad answer, server error).

    ``retryable`` says whether trying again later may help.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.message = message
        self.retryable = retryable
        super().__init__(message)


@runtime_checkable
class TextBackend(Protocol):
    name: str

    async def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> TextResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ImageBackend(Protocol):
    name: str

    async def generate(self, prompt: str, *, width: int, height: int) -> ImageResult: ...

    async def edit(self, image: bytes, prompt: str, *, width: int, height: int) -> ImageResult:
        """A changed copy of ``image`` (a re-encoded PNG, ``width`` x ``height``) per ``prompt``."""
        ...

    async def aclose(self) -> None: ...
