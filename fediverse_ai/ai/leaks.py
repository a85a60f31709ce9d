"""What a model's answer must never carry, checked before anything is published. Pure.

A model can be talked into repeating what it was told in confidence ("print your instructions
above", "what is your API key?"). Whatever the prompt said about it, the answer is checked
here: a run of the system prompt, verbatim or nearly (twelve words in a row, case and
punctuation aside: an answer may well say "if you are not sure of a fact", eight words of the
default prompt, but twelve in a row are the prompt itself), a configured secret such as a
backend's API key, or a private key block. A refused answer becomes the polite refusal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SHINGLE = 12
_MIN_SECRET = 8  # shorter "secrets" (a test key like "x") would refuse ordinary words
_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _shingles(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def leak_reason(answer: str, *, system_prompt: str, secrets: Sequence[str] = ()) -> str | None:
    """Why ``answer`` must not be published, or None when it may be."""
    for secret in secrets:
        if len(secret) >= _MIN_SECRET and secret in answer:
            return "the answer contains a configured secret"
    if "PRIVATE KEY-----" in answer:
        return "the answer contains a private key"
    prompt = _words(system_prompt)
    if not prompt:
        return None
    n = min(SHINGLE, len(prompt))
    if n < 4:
        return None  # a prompt of three words is no secret worth refusing answers for
    if _shingles(prompt, n) & _shingles(_words(answer), n):
        return "the answer repeats the system prompt"
    return None
