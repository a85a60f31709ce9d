"""One page of someone's For-you feed: candidates and signals from storage, ranked, explained.

Consent is checked here again, not only when a post was embedded: an author who has since set
``indexable: false``, added #noai to their profile, or switched "AI may use my posts" off
drops out of every feed at once, before their vectors are even purged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..ai.consent import author_allows_ai
from ..models import Note
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, embeddings, notes
from . import ranking
from .embedding import get_embedder

SIGNALS_PER_KIND = 100  # the viewer's latest likes, boosts and posts that make the profile
PROFILE_DAYS = 180
REASON_WORDS = 8
MAX_OFFSET = 1000  # deeper than this, the feed is not "for you" any more
_MATRIX = "foryou.matrix"


@dataclass(frozen=True)
class FeedItem:
    note: Note
    reason: str  # one line, shown above the post


@dataclass(frozen=True)
class _Matrix:
    """The process's copy of the embedded posts, as float32, valid while ``key`` holds."""

    key: tuple[int, float]
    found: embeddings.Candidates
    index: dict[int, int]  # note id -> row


async def _matrix(state: State, model: str, dim: int) -> _Matrix:
    """Reading and converting 10,000 vectors is most of a page's time: they are kept in
    memory (1.5 KB a post) and read again only when one was added, edited or deleted."""
    key = await embeddings.version(state.db, model=model)
    cached = state.services.get(_MATRIX)
    if isinstance(cached, _Matrix) and cached.key == key:
        return cached
    found = await embeddings.candidates(
        state.db, model=model, dim=dim, limit=state.config.ai_foryou.max_candidates
    )
    index = {int(n): k for k, n in enumerate(found.note_ids.tolist())}
    fresh = _Matrix(key, found, index)
    state.services[_MATRIX] = fresh
    return fresh


async def page(state: State, viewer_id: int, *, offset: int, limit: int) -> list[FeedItem]:
    """The viewer's For-you page ``[offset, offset + limit)``; [] past the end."""
    cfg = state.config.ai_foryou
    if offset < 0 or offset >= MAX_OFFSET:
        return []
    embedder = get_embedder(state)
    model, dim = embedder.model_name, embedder.dim
    now = state.now()
    since = now - cfg.window_days * ranking.DAY
    m = await _matrix(state, model, dim)
    found = m.found
    allowed = await _consenting(state, found.actor_ids)
    allowed &= (found.published >= since) & (found.actor_ids != viewer_id)
    signals = await embeddings.signals(
        state.db, viewer_id, since=now - PROFILE_DAYS * ranking.DAY, limit=SIGNALS_PER_KIND
    )
    vectors = await embeddings.vectors_of(
        state.db, [s.note_id for s in signals], model=model, dim=dim
    )
    profile = [
        ranking.ProfileItem(s.note_id, s.kind, s.at, vectors[s.note_id])
        for s in signals
        if s.note_id in vectors
    ]
    ranked = ranking.rank(
        actor_ids=found.actor_ids,
        published=found.published,
        vectors=found.vectors,
        allowed=allowed,
        index=m.index,
        profile=profile,
        followed=await embeddings.followed(state.db, viewer_id),
        popularity=await embeddings.popularity(state.db, since=since),
        now=now,
        offset=offset,
        limit=min(limit, MAX_OFFSET - offset),
    )
    out = []
    for r in ranked:
        note = await notes.by_id(state.db, int(found.note_ids[r.row]))
        if note is not None:
            out.append(FeedItem(note, await _reason_text(state, r)))
    return out


async def _consenting(state: State, actor_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """A mask of the candidates whose authors allow it now: indexable, their switch on, no
    opt-out hashtag (checked on every page view, so opting out takes effect at once)."""
    unique = np.unique(actor_ids)
    willing = await embeddings.consenting_authors(state.db, unique.tolist())
    authors = await actors.by_ids(state.db, willing)
    allowed = [a.id for a in authors.values() if author_allows_ai(a)]
    return np.isin(actor_ids, np.array(allowed, dtype=np.int64))


async def _reason_text(state: State, r: ranking.Ranked) -> str:
    if r.reason == "topic" and r.because_of is not None:
        source = await notes.by_id(state.db, r.because_of.note_id)
        if source is not None:
            return f"because you {r.because_of.kind}: {first_words(source)}"
    if r.reason == "follow":
        return "from someone you follow"
    if r.reason == "popular":
        return "popular here"
    return "new here"


def first_words(note: Note, words: int = REASON_WORDS) -> str:
    """The opening words of a post, for a one-line reason ("…" when cut)."""
    text = note.title or html_to_text(note.content) or note.summary or ""
    parts = text.split()
    head = " ".join(parts[:words])
    return f"{head}…" if len(parts) > words else head or "a post"
