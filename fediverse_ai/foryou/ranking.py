"""Ranking the For-you feed: pure numpy over the candidates' matrix, no I/O.

The score mixes four things, each on a comparable scale:

* **topic**: cosine similarity to the viewer's profile vector (the weighted, recency-decayed
  mean of the posts they liked, boosted and wrote), as a z-score over the candidates, since
  e5's similarities all sit in a narrow band (0.7-0.9) whose spread, not level, is the signal;
* **recency**: 1 for a post just published, halving every ``RECENCY_HALF_LIFE``;
* **follows**: a bonus for authors the viewer follows;
* **popularity**: log of likes and boosts here, so a few do not drown the topic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DAY = 86_400.0
SIGNAL_WEIGHTS: Mapping[str, float] = {"liked": 1.0, "boosted": 1.2, "wrote": 0.8}
SIGNAL_HALF_LIFE = 30 * DAY  # what someone liked a month ago counts half
RECENCY_HALF_LIFE = 2 * DAY
W_TOPIC, W_RECENCY, W_FOLLOW, W_POPULAR = 1.0, 0.5, 0.6, 0.3
# A post is there "because of" a liked one when its topic score is this many spreads above
# the candidates' mean; below, the reason is the follow, the likes, or that it is new.
TOPIC_REASON_Z = 0.5


@dataclass(frozen=True)
class ProfileItem:
    """One of the viewer's signals with its vector."""

    note_id: int
    kind: str  # a key of SIGNAL_WEIGHTS
    at: float
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True)
class Ranked:
    """A post's place in the feed, and why: ``reason`` is "topic" (with the signal that
    matches best), "follow", "popular" or "new"."""

    row: int  # in the candidates' arrays
    score: float
    reason: str
    because_of: ProfileItem | None = None


def profile_vector(items: Sequence[ProfileItem], *, now: float) -> npt.NDArray[np.float32] | None:
    """The weighted, decayed mean of the signals' vectors, of unit length; None without any."""
    if not items:
        return None
    weights = np.array(
        [
            SIGNAL_WEIGHTS.get(i.kind, 0.0) * 0.5 ** (max(now - i.at, 0.0) / SIGNAL_HALF_LIFE)
            for i in items
        ],
        dtype=np.float32,
    )
    mean = weights @ np.stack([i.vector for i in items])
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


def rank(
    *,
    actor_ids: npt.NDArray[np.int64],
    published: npt.NDArray[np.float64],
    vectors: npt.NDArray[np.float32],
    allowed: npt.NDArray[np.bool_],
    index: Mapping[int, int],
    profile: Sequence[ProfileItem],
    followed: set[int],
    popularity: Mapping[int, int],
    now: float,
    offset: int,
    limit: int,
) -> list[Ranked]:
    """The page ``[offset, offset + limit)`` of the candidates, best first, as row numbers.

    Rows are those of the arrays; ``allowed`` masks out what may not be shown (consent, the
    window, the viewer's own posts) and ``index`` maps a note id to its row. Everything is
    one pass of numpy over the whole matrix (no Python loop over the candidates).
    """
    fresh = allowed.copy()
    for item in profile:  # what the viewer liked or boosted is not news to them
        row = index.get(item.note_id)
        if row is not None:
            fresh[row] = False
    shown = int(fresh.sum())
    if shown == 0 or offset >= shown:
        return []
    n = len(actor_ids)
    score = np.zeros(n, dtype=np.float32)
    topic = np.zeros(n, dtype=np.float32)
    p = profile_vector(profile, now=now)
    if p is not None and shown > 1:
        sim = vectors @ p
        # Spread over the posts that can be shown: the liked ones, close to the profile by
        # construction, would make every other post look average.
        spread = float(sim[fresh].std())
        if spread > 1e-6:
            topic = (sim - float(sim[fresh].mean())) / spread
        score += W_TOPIC * topic
    age = np.maximum(now - published, 0.0)
    score += W_RECENCY * np.power(0.5, age / RECENCY_HALF_LIFE).astype(np.float32)
    follows = np.isin(actor_ids, np.fromiter(followed, dtype=np.int64, count=len(followed)))
    score += W_FOLLOW * follows.astype(np.float32)
    pop = np.zeros(n, dtype=np.float32)
    for note_id, likes in popularity.items():
        row = index.get(note_id)
        if row is not None:
            pop[row] = math.log1p(likes)
    score += W_POPULAR * pop
    score = np.where(fresh, score, -np.inf)
    want = min(offset + limit, shown)
    top = np.argpartition(-score, want - 1)[:want] if want < n else np.arange(n)
    order = top[np.argsort(-score[top], kind="stable")][offset:want]
    matrix = np.stack([i.vector for i in profile]) if profile else None
    out = []
    for k in (int(k) for k in order):
        reason, because = _reason(
            vectors[k], float(topic[k]), bool(follows[k]), float(pop[k]), profile, matrix
        )
        out.append(Ranked(k, float(score[k]), reason, because))
    return out


def _reason(
    vector: npt.NDArray[np.float32],
    topic: float,
    followed: bool,
    popular: float,
    profile: Sequence[ProfileItem],
    matrix: npt.NDArray[np.float32] | None,
) -> tuple[str, ProfileItem | None]:
    if matrix is not None and topic >= TOPIC_REASON_Z:
        return "topic", profile[int(np.argmax(matrix @ vector))]
    if followed:
        return "follow", None
    if popular > 0:
        return "popular", None
    return "new", None
