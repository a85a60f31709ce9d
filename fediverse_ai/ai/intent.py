"""Does a mention ask for an image or for text? Pure and language-aware by word lists."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

_LEADING_MENTIONS = re.compile(r"^(?:\s*@[\w.-]+(?:@[\w.-]+)?[,:]?\s*)+", re.UNICODE)
_IMAGE_COMMAND = re.compile(r"(?:^|\s)/(?:image|img)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Intent:
    kind: Literal["text", "image"]
    prompt: str  # the request with leading mentions (and a /image command) removed


def strip_leading_mentions(text: str) -> str:
    return _LEADING_MENTIONS.sub("", text).strip()


def _fold(text: str) -> str:
    """Lower case, accents kept (dibújame) but Unicode-normalised for comparison."""
    return unicodedata.normalize("NFC", text).casefold()


def detect_intent(text: str, *, image_words: Sequence[str]) -> Intent:
    request = strip_leading_mentions(text)
    if _IMAGE_COMMAND.search(request):
        return Intent("image", _IMAGE_COMMAND.sub(" ", request).strip())
    folded = _fold(request)
    for word in image_words:
        pattern = r"(?<!\w)" + re.escape(_fold(word)) + r"(?!\w)"
        if re.search(pattern, folded):
            return Intent("image", request)
    return Intent("text", request)
