"""Does a mention ask for an image or for text? Pure and language-aware by word lists."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

_LEADING_MENTIONS = re.compile(r"^(?:\s*@[\w.-]+(?:@[\w.-]+)?[,:]?\s*)+", re.UNICODE)
_IMAGE_COMMAND = re.compile(r"(?:^|\s)/(?:image|img)\b", re.IGNORECASE)
_EDIT_COMMAND = re.compile(r"(?:^|\s)/edit\b", re.IGNORECASE)


@dataclass(frozen=True)
class Intent:
    kind: Literal["text", "image", "edit"]
    prompt: str  # the request with leading mentions (and a /image command) removed


def strip_leading_mentions(text: str) -> str:
    return _LEADING_MENTIONS.sub("", text).strip()


def _fold(text: str) -> str:
    """Lower case, accents kept (dibújame) but Unicode-normalised for comparison."""
    return unicodedata.normalize("NFC", text).casefold()


def _has_word(folded: str, words: Sequence[str]) -> bool:
    return any(re.search(r"(?<!\w)" + re.escape(_fold(w)) + r"(?!\w)", folded) for w in words)


def detect_intent(
    text: str, *, image_words: Sequence[str], edit_words: Sequence[str] = ()
) -> Intent:
    """``edit`` asks to change a picture (the caller finds which, and falls back when there
    is none); it wins over ``image``: "draw this as a watercolour" under a photo is an edit."""
    request = strip_leading_mentions(text)
    if _EDIT_COMMAND.search(request):
        return Intent("edit", _EDIT_COMMAND.sub(" ", request).strip())
    if _IMAGE_COMMAND.search(request):
        return Intent("image", _IMAGE_COMMAND.sub(" ", request).strip())
    folded = _fold(request)
    if _has_word(folded, edit_words):
        return Intent("edit", request)
    if _has_word(folded, image_words):
        return Intent("image", request)
    return Intent("text", request)
