"""The flags the admin sees (on /admin and from ``fediverse-ai moderation flags``), and how
many posts the consent rule keeps out of them.

The rule is the project's: a remote author who does not send ``indexable: true`` (Mastodon's
default), or names #nobot/#noai/#nollm, and a local user with "AI may use my posts" off, are
never scored. That leaves holes in what the flags cover, which the admin must know about, so
the posts left out are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ai.mod_summary import describe
from ..consent import allows_ai
from ..models import Actor, Note
from ..state import State
from ..storage import actors, mod_assist, notes

NOT_CONSENTED = "{count} post{s} not scored: their authors did not consent"


class Consent:
    """``allows_ai`` per author, asked once per page."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._known: dict[int, bool] = {}

    async def allows(self, author: Actor) -> bool:
        if author.id not in self._known:
            self._known[author.id] = await allows_ai(self.state, author)
        return self._known[author.id]


@dataclass(frozen=True)
class OpenFlag:
    """A flagged post: ``reasons`` like "offensive language 0.93 (alt-profanity-check)"."""

    note: Note
    author: Actor
    reasons: list[str]


async def open_flags(state: State, *, limit: int = 50) -> list[OpenFlag]:
    """The open flags over the thresholds, worst first, one entry per post. Authors who opted
    out since they were scored are left out (their scores are dropped when their posts are
    scored again, or at once for the local switch)."""
    m = state.config.ai_moderation
    if not m.assist:
        return []
    found = await mod_assist.flagged(
        state.db,
        text_threshold=m.flag_text_threshold,
        image_threshold=m.flag_image_threshold,
        limit=limit,
    )
    reasons: dict[int, list[str]] = {}
    for flag in found:
        reasons.setdefault(flag.note_id, []).append(describe(flag))
    posts = [n for i in reasons if (n := await notes.by_id(state.db, i)) is not None]
    authors = await actors.by_ids(state.db, [n.actor_id for n in posts])
    consent = Consent(state)
    return [
        OpenFlag(n, authors[n.actor_id], reasons[n.id])
        for n in posts
        if n.actor_id in authors and await consent.allows(authors[n.actor_id])
    ]


async def not_consented(state: State) -> int:
    """How many public and unlisted posts are not scored because their authors refused (or,
    remote, never gave) consent. SQL finds the authors who may have refused; the rule itself
    (``allows_ai``) decides for each."""
    candidates = await mod_assist.consent_candidates(state.db)
    authors = await actors.by_ids(state.db, list(candidates))
    consent = Consent(state)
    refused = 0
    for actor_id, count in candidates.items():
        if actor_id in authors and not await consent.allows(authors[actor_id]):
            refused += count
    return refused


def not_consented_line(count: int) -> str:
    return NOT_CONSENTED.format(count=count, s="" if count == 1 else "s")
