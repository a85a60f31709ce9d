"""Per-card counters and marks: likes, boosts and replies of each note, and whether the viewer
liked or boosted it; a few grouped queries per page."""

from __future__ import annotations

from collections.abc import Sequence

from .db import Database


async def counts_for(db: Database, note_ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
    """(likes, boosts, replies) per note, in three grouped queries.

    Replies are counted as Mastodon counts them (``replies_count`` grows only for public and
    unlisted replies), the same number for every viewer: a count that included followers-only
    and direct replies would tell everyone that hidden replies exist."""
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    out = {i: [0, 0, 0] for i in note_ids}
    for col, sql in (
        (0, f"SELECT note_id, COUNT(*) FROM reactions WHERE note_id IN ({marks}) GROUP BY note_id"),
        (1, f"SELECT note_id, COUNT(*) FROM announces WHERE note_id IN ({marks}) GROUP BY note_id"),
        (
            2,
            f"SELECT p.id, COUNT(*) FROM notes p JOIN notes c ON c.in_reply_to_uri = p.uri"
            f" WHERE p.id IN ({marks}) AND c.visibility IN ('public', 'unlisted')"
            " GROUP BY p.id",
        ),
    ):
        for r in await db.fetchall(sql, tuple(note_ids)):
            out[r[0]][col] = r[1]
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


async def viewer_flags(
    db: Database, viewer_id: int, note_ids: Sequence[int]
) -> dict[int, tuple[bool, bool]]:
    """(liked, boosted) by the viewer per note."""
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    liked = {
        r[0]
        for r in await db.fetchall(
            f"SELECT note_id FROM reactions WHERE actor_id = ? AND kind = 'like'"
            f" AND note_id IN ({marks})",
            (viewer_id, *note_ids),
        )
    }
    boosted = {
        r[0]
        for r in await db.fetchall(
            f"SELECT note_id FROM announces WHERE actor_id = ? AND note_id IN ({marks})",
            (viewer_id, *note_ids),
        )
    }
    return {i: (i in liked, i in boosted) for i in note_ids}


#: Distinct emoji reactions shown under one post: a flood of made-up shortcodes stays a line.
MAX_REACTION_KINDS = 12


async def emoji_reactions(
    db: Database, note_ids: Sequence[int]
) -> dict[int, list[tuple[str, str | None, int]]]:
    """(emoji, custom emoji picture URL or None, count) per note, the most given first, at most
    :data:`MAX_REACTION_KINDS` per note. The same shortcode from two servers is two pictures."""
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    out: dict[int, list[tuple[str, str | None, int]]] = {}
    for r in await db.fetchall(
        f"SELECT note_id, emoji, emoji_url, COUNT(*) AS n FROM reactions"
        f" WHERE note_id IN ({marks}) AND kind = 'emoji' AND emoji <> ''"
        " GROUP BY note_id, emoji, emoji_url ORDER BY note_id, n DESC, emoji",
        tuple(note_ids),
    ):
        shown = out.setdefault(r[0], [])
        if len(shown) < MAX_REACTION_KINDS:
            shown.append((str(r[1]), str(r[2]) if r[2] else None, int(r[3])))
    return out
