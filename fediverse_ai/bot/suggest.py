"""Drafting help for local users ("Suggest"): a rewrite or a post idea, and hashtags.

The answer is only shown as a suggestion that the user edits; nothing here publishes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..ai.base import ChatMessage
from ..ai.prompt import strip_markup
from ..state import State
from .services import get_services

SYSTEM = (
    "You help a person write a short social media post. Rewrite their draft to be clear and "
    "friendly. Keep its subject, its meaning and its language. Answer with the post text only, "
    "then one last line that starts with 'Hashtags:' and lists two to four relevant hashtags."
)
IDEA = "Propose one idea for a post."
# The draft is the asker's own words, shown back only to them: it needs no untrusted fence, and
# SmolLM2-135M (the offline default) wrote about anything but the draft inside one.
DRAFT_PREFIX = "Draft: "
LOST_SUBJECT = (
    "The AI's rewrite left out what your post is about, so your own words are shown; the "
    "hashtags come from them."
)
# Words that say nothing about a post's subject, for the subject check and draft hashtags.
_FILLER_WORDS = (
    "about after again also am an and any are because been being but can could did does doing "
    "down each few for from had has have having her here hers him his how into its just more "
    "most much my myself nice not now off once only other our out over own same she should so "
    "some such than that the their them then there these they this those through today too "
    "under until very was were what when where which while who why will with would you your "
    "really good great little going got get like love"
)
_FILLER = frozenset(_FILLER_WORDS.split())
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
_HASHTAG = re.compile(r"#([^\W_][\w]{0,49})", re.UNICODE)
MAX_DRAFT_CHARS = 2000


@dataclass(frozen=True)
class Suggestion:
    text: str
    hashtags: tuple[str, ...]
    backend: str
    model: str
    note: str = ""  # why the text shown is not the model's, when it is not


def parse_suggestion(answer: str) -> tuple[str, tuple[str, ...]]:
    """Split the model's answer into the post text and its hashtags (deduplicated)."""
    lines = answer.strip().splitlines()
    tag_lines = [ln for ln in lines if ln.strip().lower().startswith("hashtags:")]
    body = "\n".join(ln for ln in lines if ln not in tag_lines).strip()
    if body.startswith(DRAFT_PREFIX):  # the small model echoes the label of its input
        body = body[len(DRAFT_PREFIX) :].strip()
    found: list[str] = []
    for source in [*tag_lines, body]:
        for name in _HASHTAG.findall(source):
            if name.lower() not in {f.lower() for f in found}:
                found.append(name)
    if tag_lines:
        for word in re.split(r"[,\s]+", tag_lines[0].split(":", 1)[1]):
            word = word.strip().lstrip("#")
            if (
                word
                and _HASHTAG.fullmatch("#" + word)
                and word.lower() not in {f.lower() for f in found}
            ):
                found.append(word)
    return body, tuple(found[:6])


def subject_words(text: str) -> list[str]:
    """The words that carry what a text is about, lower-cased, in order, once each."""
    found: list[str] = []
    for word in _WORD.findall(text.casefold()):
        if word not in _FILLER and word not in found:
            found.append(word)
    return found


def keep_subject(draft: str, text: str, tags: tuple[str, ...]) -> tuple[str, tuple[str, ...], str]:
    """What is shown: the model's text unless it lost every subject word of the draft (then
    the draft itself, said so), and hashtags from the draft when the model gave none."""
    wanted = subject_words(draft)
    note = ""
    if wanted and not set(wanted) & set(subject_words(text + " " + " ".join(tags))):
        text, tags, note = draft.strip(), (), LOST_SUBJECT
    if not tags:
        tags = tuple(_HASHTAG.findall(draft)) or tuple((wanted or subject_words(text))[:3])
    return text, tags, note


async def suggest_post(state: State, draft: str) -> Suggestion:
    services = get_services(state)
    draft = draft[:MAX_DRAFT_CHARS]
    ask = f"{DRAFT_PREFIX}{draft.strip()}" if draft.strip() else IDEA
    messages = [ChatMessage("system", SYSTEM), ChatMessage("user", ask)]
    async with services.slots.hold():
        result = await services.text.complete(messages, max_tokens=state.config.ai_text.max_tokens)
    text, tags = parse_suggestion(strip_markup(result.text))
    text, tags, note = keep_subject(draft, text, tags)
    return Suggestion(
        text=text, hashtags=tags, backend=result.backend, model=result.model, note=note
    )
