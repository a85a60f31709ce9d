"""The ``describe_image`` job: machine-written alt text for a remote picture that came without.

Queued when the picture is cached (``media_cache``) or stored already cached
(``federation.remote_notes``), and only while some local account asked for descriptions
(``storage.machine_alt``). The job checks consent when it runs: nothing is described for an
author who refuses AI processing (``consent.allows_ai``: ``indexable: false``,
#nobot/#noai/#nollm, a local author's switch), nor a picture marked sensitive, nor one that
has a description of its own. A text backend that sees images (``ai.text.vision``) writes the
description; otherwise the offline hints do (EfficientNet-Lite0 labels and Tesseract OCR,
worded by a fixed template), and a picture in which they find nothing sure gets none. Either
text passes the checks an AI answer passes before it is shown.

Running it twice is harmless: a stored description is kept, and a retry (the backend was
down) finds the picture again. The text is ours, not the author's: pages show it labelled
(``web.media_views.MACHINE_ALT_PREFIX``) to those who opted in, and it never leaves this server.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..ai.base import BackendError, ChatMessage
from ..ai.prompt import strip_markup
from ..consent import allows_ai
from ..errors import BadRequest, FediverseError
from ..media import process_image
from ..models import Media
from ..state import State
from ..storage import actors, machine_alt, notes, remote_files
from .answers import withheld
from .editing import raw_bytes
from .seeing import ALT_TEXT_CHARS, picture_data_url
from .services import AIServices, get_services

if TYPE_CHECKING:
    from ..ai.offline_vision import Hints, OfflineVision

log = logging.getLogger(__name__)

DESCRIBE_JOB = machine_alt.DESCRIBE_JOB
ATTEMPTS = 4  # a backend that is down for a while: later tries, then the picture goes without
OFFLINE_SOURCE = "offline: EfficientNet-Lite0 labels, Tesseract OCR"
INSTRUCTIONS = (
    "You write alt text for pictures posted on a social network, for people who cannot see "
    "them. Describe only what is visible, literally and briefly, and copy any text in the "
    f"picture. At most {ALT_TEXT_CHARS} characters, no preamble, no guesses about who people are."
)
ASK = "Write the alt text for this picture."
_SPACES = re.compile(r"\s+")


async def describe(state: State, payload: dict[str, Any]) -> None:
    """Job handler: describe one attachment, if it still wants it and its author consents."""
    media_id = payload.get("media_id")
    if not isinstance(media_id, int) or isinstance(media_id, bool):
        raise BadRequest("describe_image: media_id must be an integer")  # permanent
    if not state.config.ai.describe_images:
        return
    item = await machine_alt.attachment(state.db, media_id)
    if item is None or not await may_describe(state, item):
        return
    if await machine_alt.get(state.db, item.id) is not None:
        return
    services = get_services(state)
    try:
        written = await _write(state, services, item)
    except BackendError as exc:
        if exc.retryable:
            raise FediverseError(f"describing a picture: {exc.message}") from exc
        log.warning("picture %s not described: %s", item.url, exc.message)
        return
    except FediverseError as exc:  # the file is unreadable or over the caps: never better
        log.info("picture %s not described: %s", item.url, exc.message)
        return
    if written is None:
        return
    text, source = written
    if withheld(state, services, text, item.url):
        return
    if services.moderator is not None and not (await services.moderator.check_text(text)).allowed:
        log.info("description of picture %s withheld by moderation", item.url)
        return
    await machine_alt.put(state.db, item.id, text, source=source, now=state.now())


async def may_describe(state: State, item: Media) -> bool:
    """The rules, checked when the job runs (the author may have opted out since it was
    queued): a cached remote picture without a description, not sensitive, in a post whose
    author allows AI processing."""
    if item.local or item.description.strip() or item.sensitive or item.note_id is None:
        return False
    cached = await remote_files.get(state.db, item.url)
    if (
        cached is None
        or cached.state != "done"
        or not (cached.media_type or "").startswith("image/")
    ):
        return False
    note = await notes.by_id(state.db, item.note_id)
    if note is None or note.sensitive:
        return False
    author = await actors.by_id(state.db, item.actor_id)
    return author is not None and await allows_ai(state, author)


async def _write(state: State, services: AIServices, item: Media) -> tuple[str, str] | None:
    if state.config.ai_text.vision:
        return await _by_model(state, services, item)
    if services.vision is None:  # ai.offline_vision is off: nothing may look
        return None
    raw = await raw_bytes(state, item)
    hints = await asyncio.to_thread(read_hints, services.vision, raw)
    text = hint_wording(hints)
    return (text, OFFLINE_SOURCE) if text else None


async def _by_model(state: State, services: AIServices, item: Media) -> tuple[str, str] | None:
    raw = await raw_bytes(state, item)
    picture = await asyncio.to_thread(picture_data_url, raw)
    messages = [
        ChatMessage("system", INSTRUCTIONS),
        ChatMessage("user", ASK, images=(picture,)),
    ]
    async with services.slots.hold():  # ai.limits.concurrency counts answers and descriptions
        result = await services.text.complete(messages, max_tokens=state.config.ai_text.max_tokens)
    text = clean(strip_markup(result.text))
    return (text, f"{result.backend}: {result.model}") if text else None


def read_hints(vision: OfflineVision, raw: bytes) -> Hints:
    """The offline readings of a picture's bytes (blocking: run it in a thread)."""
    clean_image = process_image(raw)  # caps and re-encoding before the classifier or OCR
    with Image.open(io.BytesIO(clean_image.data)) as opened:
        return vision.hints(opened.convert("RGB"))


def hint_wording(hints: Hints) -> str:
    """The template: "possibly: goldfinch (83%); text in the image: “…”", or "" for nothing sure."""
    parts = []
    if hints.labels:
        parts.append("possibly: " + ", ".join(f"{n} ({p:.0%})" for n, p in hints.labels))
    if hints.text:
        parts.append(f"text in the image: “{hints.text}”")
    return clean("; ".join(parts))


def clean(text: str) -> str:
    """One line of plain text within the alt-text cap (an attribute value, read aloud)."""
    flat = _SPACES.sub(" ", "".join(c for c in text if c.isprintable() or c.isspace())).strip()
    if len(flat) <= ALT_TEXT_CHARS:
        return flat
    return flat[: ALT_TEXT_CHARS - 1].rstrip() + "…"
