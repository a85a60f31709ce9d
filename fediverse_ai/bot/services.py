"""The AI backends and moderator chosen in the config, built once per process."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from ..ai.base import ImageBackend, TextBackend
from ..ai.offline_models import LARGE, Choice, choose_model, read_memory
from ..config import Config
from ..netguard import NetGuard, origin_key
from ..state import State, make_http_client
from .ai_slots import AISlots

if TYPE_CHECKING:  # numpy and the network load only when a picture is first looked at
    from ..ai.offline_vision import OfflineVision

_KEY = "ai"
log = logging.getLogger(__name__)


class Verdict(Protocol):
    allowed: bool
    score: float
    reason: str


class Moderator(Protocol):
    async def check_text(self, text: str) -> Any: ...

    async def check_image(self, data: bytes) -> Any: ...


@dataclass
class AIServices:
    text: TextBackend
    image: ImageBackend
    moderator: Moderator | None
    slots: AISlots
    http: httpx.AsyncClient | None = None
    # Values no answer may contain (the backends' API keys): see ``ai.leaks``.
    secrets: tuple[str, ...] = ()
    # Automatic hints about a picture for a text backend that cannot see (ai.offline_vision).
    vision: OfflineVision | None = None

    async def aclose(self) -> None:
        await self.text.aclose()
        await self.image.aclose()
        if self.http is not None:
            await self.http.aclose()


def backend_guard(config: Config, guard: NetGuard) -> NetGuard:
    """The federation guard plus the origins of the configured backends (issue 17).

    A backend on the operator's own machine is a private address; trusting it here, and only
    here, keeps ``federation.allow_private_addresses`` off for everything a peer can name.
    URLs a backend answers with (an image to download) pass this guard too: public ones, and
    the backend's own origin.
    """
    urls = []
    if config.ai_text.backend == "openai":
        urls.append(config.ai_text.base_url)
    if config.ai_image.backend in ("openai", "automatic1111"):
        urls.append(config.ai_image.base_url)
    trusted = frozenset(key for url in urls if (key := origin_key(url)) is not None)
    return replace(guard, trusted_origins=guard.trusted_origins | trusted)


def _api_key(explicit: str, env_name: str) -> str | None:
    return explicit or (os.environ.get(env_name) if env_name else None) or None


def build_text_backend(config: Config, http: httpx.AsyncClient, guard: NetGuard) -> TextBackend:
    t = config.ai_text
    if t.backend == "openai":
        from ..ai.openai_backend import OpenAITextBackend

        return OpenAITextBackend(
            base_url=t.base_url.rstrip("/"),
            api_key=_api_key(t.api_key, t.api_key_env),
            model=t.model,
            timeout=t.timeout_seconds,
            http=http,
            guard=guard,
            temperature=t.temperature,
        )
    from ..ai.offline_text import OfflineTextBackend

    choice = offline_choice(config, announce=True)
    path = t.offline_model_path if choice.model == LARGE else None
    return OfflineTextBackend(model=choice.model, model_path=path)


def offline_choice(config: Config, *, announce: bool = False) -> Choice:
    """The offline model this machine runs now (the large one only if its file is there);
    ``announce`` logs it, as a warning when the large model was wanted and cannot run."""
    t = config.ai_text
    present = t.offline_model_path.is_file()
    choice = choose_model(t.offline_model, read_memory(), large_present=present)
    if announce:
        level = logging.WARNING if choice.fallback else logging.INFO
        log.log(level, "offline text model: %s (%s)", choice.model.label, choice.reason)
    return choice


def build_image_backend(config: Config, http: httpx.AsyncClient, guard: NetGuard) -> ImageBackend:
    i = config.ai_image
    if i.backend == "openai":
        from ..ai.openai_images import OpenAIImageBackend

        return OpenAIImageBackend(
            base_url=i.base_url.rstrip("/"),
            api_key=_api_key(i.api_key, i.api_key_env),
            model=i.model,
            timeout=i.timeout_seconds,
            http=http,
            guard=guard,
        )
    if i.backend == "automatic1111":
        from ..ai.a1111_backend import Automatic1111Backend

        return Automatic1111Backend(
            base_url=i.base_url.rstrip("/"),
            timeout=i.timeout_seconds,
            http=http,
            guard=guard,
            steps=i.steps,
        )
    from ..ai.offline_image import ProceduralImageBackend

    return ProceduralImageBackend()


def secrets(config: Config) -> tuple[str, ...]:
    """The configured values that must never appear in an answer."""
    keys = (
        _api_key(config.ai_text.api_key, config.ai_text.api_key_env),
        _api_key(config.ai_image.api_key, config.ai_image.api_key_env),
    )
    return tuple(dict.fromkeys(k for k in keys if k))


def get_services(state: State) -> AIServices:
    """Build the configured backends on first use (the offline model loads lazily too)."""
    found = state.services.get(_KEY)
    if isinstance(found, AIServices):
        return found
    config = state.config
    moderator: Moderator | None = None
    if config.ai_moderation.enabled:
        from ..ai.moderation import Moderator as ClassifierModerator

        moderator = ClassifierModerator(
            text_threshold=config.ai_moderation.text_threshold,
            image_threshold=config.ai_moderation.image_threshold,
        )
    vision = None
    if config.ai.offline_vision and not config.ai_text.vision:
        from ..ai.offline_vision import OfflineVision

        vision = OfflineVision()
    guard = backend_guard(config, state.guard)
    # Its own client: the shared one connects only where the federation guard allows.
    http = make_http_client(config, lambda: guard)
    services = AIServices(
        text=build_text_backend(config, http, guard),
        image=build_image_backend(config, http, guard),
        moderator=moderator,
        slots=AISlots(
            state.db,
            size=config.ai_limits.concurrency,
            lease_seconds=config.ai_limits.slot_lease_seconds,
            clock=state.now,
        ),
        http=http,
        secrets=secrets(config),
        vision=vision,
    )
    state.services[_KEY] = services
    return services
