"""Is a reply to the AI's answer praise, a complaint, or neither? Word lists, explainable.

A reply like "thanks, great" or "that's wrong" says how the answer did; "and in winter?" asks
for more. No model is needed to tell these apart for feedback counts, and a word list says why
it decided, which an admin reviewing a bad answer wants to see. English, French and Italian
cues (with or without accents), emoji, and negation: "not helpful", "ce n'est pas utile",
"non è corretto" are complaints, "not wrong" is mild praise.

How it scores: each cue found counts its weight (complaints about correctness weigh 2, thanks
and plain approval 1 or 2); a negator (not, never, pas, jamais, non, mai…) up to three words
before a cue in the same clause turns it round with weight 1. Above zero is positive, below is
negative, zero is neutral: "thanks, but that's wrong" is negative (1 − 2).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from .intent import strip_leading_mentions

Label = Literal["positive", "negative", "neutral"]
NEGATION_WINDOW = 3
MAX_REASON = 200

# (cue, weight, language). A cue is one or more words as folded below (no accents, apostrophes
# as spaces); a trailing "*" matches any ending. Positive weights praise, negative ones complain.
_CUES: tuple[tuple[str, int, str], ...] = (
    # English
    *((w, 1, "en") for w in ("thanks", "thank you", "thx", "ty", "cheers", "nice", "cool")),
    *((w, 2, "en") for w in ("great", "perfect", "correct", "helpful", "useful", "awesome")),
    *((w, 2, "en") for w in ("excellent", "exactly", "brilliant", "accurate", "spot on")),
    *((w, 2, "en") for w in ("well done", "good answer", "love it", "that's right", "it works")),
    *((w, 2, "en") for w in ("makes sense", "make sense")),
    *((w, -2, "en") for w in ("wrong", "incorrect", "nonsense", "rubbish", "garbage", "false")),
    *((w, -2, "en") for w in ("useless", "untrue", "inaccurate", "misleading", "bullshit")),
    *((w, -2, "en") for w in ("hallucinat*", "made up", "makes no sense", "bad answer")),
    *((w, -2, "en") for w in ("terrible", "awful", "stupid", "mistake*", "lies", "lying")),
    *((w, -2, "en") for w in ("doesn't work", "does not work")),
    # French
    *((w, 1, "fr") for w in ("merci", "super", "chouette", "sympa")),
    *((w, 2, "fr") for w in ("genial", "parfait", "exact", "exactement", "bravo", "utile")),
    *((w, 2, "fr") for w in ("excellent", "formidable", "bien vu", "bonne reponse", "c'est juste")),
    *((w, -2, "fr") for w in ("faux", "fausse", "errone*", "absurde", "nul")),
    *((w, -2, "fr") for w in ("nulle", "inutile", "incorrect*", "mauvaise reponse", "betise*")),
    *((w, -2, "fr") for w in ("mensonge*", "n'a pas de sens", "aucun sens", "debile")),
    *((w, -2, "fr") for w in ("erreur*", "n'importe quoi")),
    # Italian
    *((w, 1, "it") for w in ("grazie", "bene", "chiaro")),
    *((w, 2, "it") for w in ("perfetto", "ottimo", "giusto", "corretto", "esatto", "bravo")),
    *((w, 2, "it") for w in ("brava", "fantastico", "eccellente", "benissimo", "geniale")),
    *((w, 2, "it") for w in ("esattamente", "utilissimo", "molto utile")),
    *((w, -2, "it") for w in ("sbagliat*", "errat*", "sciocchezz*", "assurdo", "inutile")),
    *((w, -2, "it") for w in ("falso", "falsa", "scorrett*", "incorrett*", "stupidaggin*")),
    *((w, -2, "it") for w in ("non ha senso", "risposta sbagliata", "pessim*", "cavolat*")),
    *((w, -2, "it") for w in ("errore", "bugia", "bugie", "inventat*")),
    # Emoji: thumbs, hearts, thanks; thumbs down, anger, facepalm.
    *((w, 1, "emoji") for w in ("👍", "❤", "🙏", "😀", "😊", "🎉", "💯", "👏")),
    *((w, -2, "emoji") for w in ("👎", "🤦", "😡", "🤬", "🙄")),
)
_NEGATORS = frozenset(
    {"not", "never", "hardly", "pas", "jamais", "aucun", "aucune", "guere", "non", "mai"}
    | {"mica", "nemmeno", "neanche", "niente"}
)
# Clause ends: a negator before one of these does not reach past it ("not sure. wrong").
_CLAUSE = frozenset(",.;:!?()")
_TOKEN = re.compile(r"[^\W_]+|[,.;:!?()]|[\U0001F300-\U0001FAFF\u2600-\u27BF]", re.UNICODE)
_NT = re.compile(r"n['’]t\b")
_QUESTION = re.compile(r"\?")


@dataclass(frozen=True)
class Cue:
    words: tuple[str, ...]
    weight: int
    language: str

    @property
    def text(self) -> str:
        return " ".join(self.words).replace("*", "…")


@dataclass(frozen=True)
class Verdict:
    label: Label
    score: int
    reason: str  # why, for the admin: the cues found and how they counted


def fold(text: str) -> str:
    """Lower case without accents, apostrophes as spaces: "N'est-ce" → "n est-ce"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    # An emoji with its variation selector (❤️) is the emoji.
    plain = plain.replace("\ufe0f", "")
    return _NT.sub(" not", plain).replace("'", " ").replace("’", " ")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(fold(text))


def _cue(word: str, weight: int, language: str) -> Cue:
    words = tuple(tokens(word.rstrip("*")))
    if word.endswith("*"):
        words = (*words[:-1], words[-1] + "*")
    return Cue(words, weight, language)


# Longest first: "makes no sense" is one complaint, not "makes sense" negated.
CUES = sorted((_cue(*entry) for entry in _CUES), key=lambda c: -len(c.words))


def _matches(words: tuple[str, ...], seq: list[str], at: int) -> bool:
    if at + len(words) > len(seq):
        return False
    for want, got in zip(words, seq[at : at + len(words)], strict=True):
        if want.endswith("*"):
            if not got.startswith(want[:-1]):
                return False
        elif want != got:
            return False
    return True


def _negated(seq: list[str], used: list[bool], at: int) -> bool:
    for k in range(at - 1, max(-1, at - 1 - NEGATION_WINDOW), -1):
        if seq[k] in _CLAUSE:
            return False
        if seq[k] in _NEGATORS and not used[k]:
            return True
    return False


def classify(text: str) -> Verdict:
    """The verdict on a reply's plain text (mentions at its start are ignored)."""
    seq = tokens(strip_leading_mentions(text))
    used = [False] * len(seq)
    found: list[tuple[int, Cue, bool]] = []
    for at in range(len(seq)):
        if used[at]:
            continue
        for cue in CUES:
            if _matches(cue.words, seq, at) and not any(used[at : at + len(cue.words)]):
                for k in range(at, at + len(cue.words)):
                    used[k] = True
                found.append((at, cue, False))
                break
    score, parts = 0, []
    for at, cue, _ in sorted(found, key=lambda f: f[0]):
        weight = cue.weight
        if _negated(seq, used, at):
            weight = 1 if cue.weight < 0 else -1
            parts.append(f'not "{cue.text}" ({cue.language}, {weight:+d})')
        else:
            parts.append(f'"{cue.text}" ({cue.language}, {weight:+d})')
        score += weight
    if not found:
        asks = _QUESTION.search(text) is not None
        return Verdict("neutral", 0, "a follow-up question" if asks else "no feedback words")
    label: Label = "positive" if score > 0 else "negative" if score < 0 else "neutral"
    return Verdict(label, score, (f"{label} {score:+d}: " + "; ".join(parts))[:MAX_REASON])
