"""Pictures the AI actor is asked about: "@ai what bird is this?", "@ai write alt text for this".

The pictures in reach are those of the mention, then of the thread it read (the ancestors
that consent and visibility let it read), newest first, at most four. A text backend that
sees images (``ai.text.vision``) is sent them as data URLs, after the media pipeline (Pillow
only, pixel caps, re-encoded, EXIF dropped) and fitted within 1024 pixels. One that does not
is never asked to guess: a question about a picture gets automatic hints about the newest one
(``ai.offline_vision``: ImageNet labels and OCR, worded as guesses, see ``ai.offline_vision``)
or, when they find nothing sure, a polite "cannot see"; other questions in a thread with
pictures tell the model it cannot see them.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image

from ..ai.base import BackendError
from ..ai.ocr import MAX_SIDE as OCR_SIDE
from ..ai.prompt import ContextPost
from ..errors import FediverseError
from ..media import MediaLimits, decode_image
from ..models import Media, Note
from ..state import State
from ..storage import media
from .editing import raw_bytes

if TYPE_CHECKING:  # numpy and the network load only when a picture is first looked at
    from ..ai.offline_vision import OfflineVision

log = logging.getLogger(__name__)

MAX_PICTURES = 4
MAX_SIDE = 1024
ALT_TEXT_CHARS = 1500
_FIT = MediaLimits(max_width=MAX_SIDE, max_height=MAX_SIDE)
_HINTS_FIT = MediaLimits(max_width=OCR_SIDE, max_height=OCR_SIDE)  # OCR reads no more
_JPEG_QUALITY = 85
CANNOT_SEE = (
    "This instance's AI cannot see images, so I can't tell you what this picture shows. "
    "(Its text model reads words only.)"
)
_ALT = re.compile(
    r"\balt[ -]?te?xt\b|\btexte alternatif|\btesto alternativo|\btexto alternativo"
    r"|\balternativtext",
    re.IGNORECASE,
)
_LOOK = re.compile(
    r"\bdescri(?:be|bir|ba|vi|vere|s|re|ption)\b|\bdécri|\bwhat(?:'s| is| are) (?:this|that|these|"
    r"in (?:the|this))|\bwho is this|\bidentify|\bwhat (?:bird|plant|animal|flower|kind)\b"
    r"|\bqu'est-ce que c'est|\bc'est quoi|\bcos'è|\bche cos|\bqué es|\bwas ist (?:das|auf)"
    r"|\bbeschreib|\bpicture|\bphoto|\bimage|\bimmagine|\bimagen|\bfoto|\bbild",
    re.IGNORECASE,
)


def asks_alt_text(text: str) -> bool:
    return bool(_ALT.search(text))


def asks_about_picture(text: str) -> bool:
    return asks_alt_text(text) or bool(_LOOK.search(text))


def picture_data_url(raw: bytes) -> str:
    """A picture as a model that sees is shown it (the pipeline's caps, at most 1024 px, one
    JPEG data URL), for callers other than a mention: the alt-text job (``bot.alt_text``)."""
    return _encode(raw)


@dataclass(frozen=True)
class Sight:
    """What the pictures change for one request."""

    images: list[str] = field(default_factory=list)  # data URLs, for the model
    notes: list[str] = field(default_factory=list)  # our own words to the model
    refusal: str = ""  # answer this instead of asking the model
    automatic: bool = False  # the refusal is automatic hints about the picture: label them
    alt_text: bool = False  # the answer is alt text: capped, and labelled so


async def look(
    state: State,
    mention: Note,
    history: Sequence[ContextPost],
    asked: str,
    *,
    vision: OfflineVision | None = None,
) -> Sight:
    """What the model is shown of the pictures in reach, or the answer to give instead.

    ``vision``, when given, turns a "cannot see" into automatic hints about the newest
    picture, if it finds anything sure.
    """
    pictures = await _in_reach(state, mention, history)
    if not pictures:
        return Sight()
    if not state.config.ai_text.vision:
        if asks_about_picture(asked):
            hints = await _hints(state, vision, pictures[0]) if vision is not None else ""
            if hints and asks_alt_text(asked):
                hints += " They are not alt text: that needs a model that sees the picture."
            return Sight(refusal=hints or CANNOT_SEE, automatic=bool(hints))
        count = len(pictures)
        return Sight(notes=[f"(The thread has {count} picture(s) you cannot see: do not guess.)"])
    images = []
    for item in pictures:
        try:
            images.append(await _data_url(state, item))
        except FediverseError as exc:
            log.info("picture %s not shown to the model: %s", item.url, exc.message)
    if not images:
        return Sight(refusal="Sorry, I couldn't load the picture to look at it.")
    notes = [f"(With this message: {len(images)} picture(s) from the thread, newest first.)"]
    alt = asks_alt_text(asked)
    if alt:
        notes.append(
            "(Write alt text for the first picture: literal and short, what is visible and any "
            f"text in it, at most {ALT_TEXT_CHARS} characters, with no preamble.)"
        )
    return Sight(images=images, notes=notes, alt_text=alt)


async def _in_reach(state: State, mention: Note, history: Sequence[ContextPost]) -> list[Media]:
    note_ids = [mention.id, *(p.note_id for p in reversed(history) if p.note_id is not None)]
    by_note = await media.for_notes(state.db, note_ids)
    found: list[Media] = []
    for note_id in note_ids:
        pictures = [m for m in by_note.get(note_id, []) if m.media_type.startswith("image/")]
        found += reversed(pictures)  # the last attached is the newest
    return found[:MAX_PICTURES]


async def _hints(state: State, vision: OfflineVision, item: Media) -> str:
    try:
        raw = await raw_bytes(state, item)
        return await asyncio.to_thread(_hint_text, vision, raw)
    except FediverseError as exc:
        log.info("no hints about picture %s: %s", item.url, exc.message)
    except BackendError as exc:
        log.warning("no hints about picture %s: %s", item.url, exc.message)
    return ""


def _hint_text(vision: OfflineVision, raw: bytes) -> str:
    from ..ai.offline_vision import wording

    # The pipeline's caps and cleaning before the classifier or OCR see the picture, with
    # its pixels handed over as they are: encoding them only to decode them again cost more
    # than the classifier itself.
    image = decode_image(raw, limits=_HINTS_FIT, quick=True).image.convert("RGB")
    return wording(vision.hints(image))


async def _data_url(state: State, item: Media) -> str:
    raw = await raw_bytes(state, item)
    return await asyncio.to_thread(_encode, raw)


def _encode(raw: bytes) -> str:
    # The model's copy is read by a model, not published: a JPEG that the decoder can reduce
    # to 3/4 of the box or more is decoded at that scale and not resampled, the rest is
    # resampled bicubic, and the encode is a plain baseline JPEG with no blurhash (a 1 MB
    # photo: see BENCHMARKS.md §3).
    image = decode_image(raw, limits=_FIT, quick=True).image
    bare = Image.new("RGB", image.size)  # pixels only: nothing of ``info`` rides along
    bare.paste(image.convert("RGB"))
    out = io.BytesIO()
    bare.save(out, format="JPEG", quality=_JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")
