"""Read queries behind the web pages: feeds, gallery, hashtags, threads, notifications.

Feeds page with a keyset cursor ``(published, id)`` so that a page costs the same however deep
it is and posts arriving meanwhile do not shift it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Media, Note
from .db import Database
from .media import _COLUMNS as MEDIA_COLUMNS
from .media import row_to_media
from .moderation import SUSPENDED_IDS, UNLISTED_IDS, is_suspended
from .notes import _COLUMNS, row_to_note
from .notes import by_uri as notes_by_uri

Cursor = tuple[float, int] | None
_FAR = (1e18, 2**62)
_N_COLUMNS = ", ".join(f"n.{c.strip()}" for c in _COLUMNS.split(","))


def _cursor(cursor: Cursor) -> tuple[float, int]:
    return cursor if cursor is not None else _FAR


def _notes(rows: Sequence[sqlite3.Row]) -> list[Note]:
    return [row_to_note(r) for r in rows]


async def cursor_of(db: Database, note_id: int) -> Cursor:
    row = await db.fetchone("SELECT published, id FROM notes WHERE id = ?", (note_id,))
    return (row[0], row[1]) if row else None


async def local_public(db: Database, *, cursor: Cursor, limit: int) -> list[Note]:
    p, i = _cursor(cursor)
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM notes WHERE local = 1 AND visibility = 'public'"
        f" AND actor_id NOT IN ({UNLISTED_IDS})"
        " AND (published, id) < (?, ?) ORDER BY published DESC, id DESC LIMIT ?",
        (p, i, limit),
    )
    return _notes(rows)


async def by_actor(
    db: Database,
    actor_id: int,
    *,
    visibilities: Sequence[str],
    cursor: Cursor,
    limit: int,
    with_media: bool = False,
) -> list[Note]:
    """An actor's posts; ``with_media`` keeps those with attachments (the profile's media tab)."""
    p, i = _cursor(cursor)
    marks = ",".join("?" * len(visibilities))
    media = " AND EXISTS (SELECT 1 FROM media m WHERE m.note_id = notes.id)" if with_media else ""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM notes WHERE actor_id = ? AND visibility IN ({marks}){media}"
        " AND (published, id) < (?, ?) ORDER BY published DESC, id DESC LIMIT ?",
        (actor_id, *visibilities, p, i, limit),
    )
    return _notes(rows)


async def by_hashtag(db: Database, name: str, *, cursor: Cursor, limit: int) -> list[Note]:
    p, i = _cursor(cursor)
    rows = await db.fetchall(
        f"SELECT {_N_COLUMNS} FROM note_hashtags h JOIN notes n ON n.id = h.note_id"
        f" WHERE h.name = ? AND n.visibility = 'public' AND n.actor_id NOT IN ({UNLISTED_IDS})"
        " AND (n.published, n.id) < (?, ?) ORDER BY n.published DESC, n.id DESC LIMIT ?",
        (name.lower(), p, i, limit),
    )
    return _notes(rows)


@dataclass(frozen=True)
class GalleryItem:
    media: Media
    note: Note
    asked: Note | None = None  # the request the AI drew this for, if any


async def ai_gallery(db: Database, *, before_media_id: int | None, limit: int) -> list[GalleryItem]:
    """AI-generated images, newest first: those of public posts (local and remote), and those
    the AI actor drew for a public request by an author who allows indexing.

    The AI's answers are unlisted on timelines by default (``ai.public_reply_visibility``), but
    anyone may read them and the request was public: the gallery shows them unless the
    requester said ``indexable: false`` (Mastodon's default for remote accounts that say
    nothing, so only those who opted in), in which case their request stays out of it.
    """
    m_cols = ", ".join(f"m.{c.strip()}" for c in MEDIA_COLUMNS.split(","))
    rows = await db.fetchall(
        f"SELECT {m_cols}, q.id AS asked_id FROM media m"
        " JOIN notes n ON n.id = m.note_id"
        " LEFT JOIN notes q ON q.uri = n.in_reply_to_uri AND n.local = 1 AND n.ai_generated = 1"
        " LEFT JOIN actors a ON a.id = q.actor_id"
        " WHERE (m.ai_generated = 1 OR n.ai_generated = 1)"
        f" AND n.actor_id NOT IN ({UNLISTED_IDS})"
        " AND m.media_type LIKE 'image/%' AND m.id < ?"
        " AND CASE WHEN q.id IS NOT NULL"
        "   THEN n.visibility IN ('public', 'unlisted') AND q.visibility = 'public'"
        "     AND a.indexable = 1"
        "   ELSE n.visibility = 'public'"
        " END ORDER BY m.id DESC LIMIT ?",
        (before_media_id if before_media_id is not None else 2**62, limit),
    )
    found = [(row_to_media(r), r["asked_id"]) for r in rows]
    note_ids = sorted({m.note_id for m, _ in found if m.note_id is not None})
    note_ids += sorted({q for _, q in found if q is not None} - set(note_ids))
    marks = ",".join("?" * len(note_ids))
    by_id = {
        n.id: n
        for n in _notes(
            await db.fetchall(f"SELECT {_COLUMNS} FROM notes WHERE id IN ({marks})", note_ids)
        )
    }
    return [
        GalleryItem(media=m, note=by_id[m.note_id], asked=by_id.get(asked) if asked else None)
        for m, asked in found
        if m.note_id in by_id
    ]


@dataclass(frozen=True)
class HomeItem:
    """A post in someone's home timeline; ``boosted_by`` is set when it is there as a boost."""

    note: Note
    boosted_by: int | None
    at: float
    key: int  # tie-breaker for the cursor: the note id, or minus the announce id

    @property
    def cursor(self) -> str:
        return f"{self.at!r}:{self.key}"


def parse_home_cursor(raw: str) -> tuple[float, int] | None:
    at, _, key = raw.partition(":")
    try:
        return float(at), int(key)
    except ValueError:
        return None


async def home(
    db: Database,
    viewer_id: int,
    viewer_uri: str,
    *,
    cursor: tuple[float, int] | None,
    limit: int,
    after: tuple[float, int] | None = None,
    oldest_first: bool = False,
) -> list[HomeItem]:
    """The viewer's own posts, posts of accounts they follow (not direct ones unless they are
    mentioned), posts that mention them, and public posts boosted by accounts they follow.
    Newest first and older than ``cursor``; also newer than ``after`` (the client API's
    ``since_id``), or the oldest of those first (its ``min_id``: the page just after it)."""
    at, key = cursor if cursor is not None else _FAR
    after_at, after_key = after if after is not None else (-1e18, -(2**62))
    order = "ASC" if oldest_first else "DESC"
    # Each source of the home timeline takes its own page through an index (per followed
    # account: notes_actor), then one sort merges them: no scan of every note, however many
    # there are (an OR of the three could not use an index at all).
    page = (
        "(y.published, y.id) < (:at, :key) AND (y.published, y.id) > (:after_at, :after_key)"
        f" ORDER BY y.published {order}, y.id {order} LIMIT :limit"
    )
    rows = await db.fetchall(
        "WITH followed(id) AS (SELECT followee_id FROM follows"
        "  WHERE follower_id = :me AND state = 'accepted'),"
        " wanted(id) AS ("
        f"  SELECT id FROM (SELECT y.id FROM notes y WHERE y.actor_id = :me AND {page})"
        "  UNION"
        "  SELECT x.id FROM followed f JOIN notes x ON x.id IN (SELECT y.id FROM notes y"
        f"   WHERE y.actor_id = f.id AND y.visibility != 'direct' AND {page})"
        "  UNION"
        "  SELECT id FROM (SELECT y.id FROM note_mentions m JOIN notes y ON y.id = m.note_id"
        f"   WHERE m.actor_uri = :me_uri AND {page}))"
        " SELECT * FROM ("
        f" SELECT {_COLUMNS}, NULL AS booster, published AS at, id AS k FROM notes"
        "  WHERE id IN (SELECT id FROM wanted)"
        " UNION ALL"
        # CROSS JOIN: from the boosts of followed accounts, not from every public note.
        f" SELECT {_N_COLUMNS}, b.actor_id, b.published, -b.id FROM announces b"
        "  CROSS JOIN notes n ON n.id = b.note_id"
        "  WHERE b.actor_id IN (SELECT id FROM followed) AND n.visibility IN ('public', 'unlisted')"
        ") WHERE (at, k) < (:at, :key) AND (at, k) > (:after_at, :after_key)"
        f" ORDER BY at {order}, k {order} LIMIT :limit",
        {
            "me": viewer_id,
            "me_uri": viewer_uri,
            "at": at,
            "key": key,
            "after_at": after_at,
            "after_key": after_key,
            "limit": limit,
        },
    )
    items = [
        HomeItem(note=row_to_note(r), boosted_by=r["booster"], at=r["at"], key=r["k"]) for r in rows
    ]
    return items[::-1] if oldest_first else items


async def descendants(db: Database, uri: str, *, limit: int) -> list[tuple[Note, int]]:
    """Replies to ``uri``, their replies and so on, in thread order with their depth."""
    rows = await db.fetchall(
        f"WITH RECURSIVE tree(id, depth, path) AS ("
        " SELECT id, 1, printf('%020.6f.%d', published, id) FROM notes WHERE in_reply_to_uri = ?"
        " UNION ALL"
        " SELECT n.id, tree.depth + 1, tree.path || '/' || printf('%020.6f.%d', n.published, n.id)"
        " FROM notes n JOIN notes parent ON n.in_reply_to_uri = parent.uri"
        " JOIN tree ON tree.id = parent.id WHERE tree.depth < 30"
        f") SELECT {_N_COLUMNS}, tree.depth AS depth FROM tree JOIN notes n ON n.id = tree.id"
        " ORDER BY tree.path LIMIT ?",
        (uri, limit),
    )
    return [(row_to_note(r), int(r["depth"])) for r in rows]


async def ancestors(db: Database, note: Note, *, limit: int) -> list[Note]:
    """The posts ``note`` answers, oldest first, as far as they are stored (at most ``limit``)."""
    chain: list[Note] = []
    seen = {note.uri}
    uri = note.in_reply_to_uri
    while uri and uri not in seen and len(chain) < limit:
        seen.add(uri)
        parent = await notes_by_uri(db, uri)
        if parent is None:
            break
        chain.append(parent)
        uri = parent.in_reply_to_uri
    chain.reverse()
    return chain


def _visible_sql(note: str) -> str:
    """SQL that is true when the viewer may see the note aliased ``note``: Mastodon's rule,
    public/unlisted for all; followers-only for accepted followers and the mentioned; direct
    for the mentioned; everything for the author; nothing by a suspended author (migration
    0016), whoever asks. The one statement of the rule: pages, notifications and
    :func:`viewer_can_see` all use it. Takes ``:viewer_id`` and
    ``:viewer_uri``, both NULL for an anonymous viewer (every comparison is then false)."""
    return (
        f"({note}.actor_id NOT IN ({SUSPENDED_IDS})"
        f" AND ({note}.visibility IN ('public', 'unlisted')"
        f" OR {note}.actor_id = :viewer_id"
        f" OR EXISTS (SELECT 1 FROM note_mentions vm WHERE vm.note_id = {note}.id"
        "   AND vm.actor_uri = :viewer_uri)"
        f" OR ({note}.visibility = 'followers' AND EXISTS (SELECT 1 FROM follows vf"
        f"   WHERE vf.follower_id = :viewer_id AND vf.followee_id = {note}.actor_id"
        "   AND vf.state = 'accepted'))))"
    )


async def visible_note_ids(
    db: Database, note_ids: Sequence[int], viewer_id: int | None, viewer_uri: str | None
) -> set[int]:
    """Which of ``note_ids`` the viewer may see, in one query."""
    if not note_ids:
        return set()
    params: dict[str, object] = {"viewer_id": viewer_id, "viewer_uri": viewer_uri}
    params |= {f"n{k}": i for k, i in enumerate(note_ids)}
    marks = ", ".join(f":n{k}" for k in range(len(note_ids)))
    rows = await db.fetchall(
        f"SELECT n.id FROM notes n WHERE n.id IN ({marks}) AND {_visible_sql('n')}", params
    )
    return {int(r[0]) for r in rows}


async def viewer_can_see(
    db: Database, note: Note, viewer_id: int | None, viewer_uri: str | None
) -> bool:
    """Whether the viewer may see ``note`` (the rule is :func:`_visible_sql`'s)."""
    if note.visibility in ("public", "unlisted"):
        # What the query would answer, with a lookup by primary key instead.
        return not await is_suspended(db, note.actor_id)
    return note.id in await visible_note_ids(db, [note.id], viewer_id, viewer_uri)


@dataclass(frozen=True)
class Notification:
    kind: str  # mention, reply, follow, follow_request, like, boost, update (of a boosted
    # note), poll (one's own, or one voted in, has closed)
    actor_id: int
    note_id: int | None
    at: float


async def notifications(
    db: Database,
    viewer_id: int,
    viewer_uri: str,
    *,
    before: float | None,
    limit: int,
    after: float | None = None,
    oldest_first: bool = False,
) -> list[Notification]:
    """Derived from the tables that already record each event: nothing extra to keep in sync.

    A reply notifies only when the viewer may see it: a direct reply to someone else that
    happens to answer the viewer's post is none of the viewer's business. Mentions are
    visible to the mentioned, likes and boosts are of the viewer's own posts, an update is an
    edit of a post the viewer boosted (as Mastodon tells those who boosted it), a poll is the
    close of one the viewer made or voted in (as Mastodon tells both), a status is a new post
    (not a reply, not direct, not one that mentions the viewer: that is a mention) of an
    account the viewer follows with ``notify``. ``after`` and
    ``oldest_first`` as in :func:`home`."""
    order = "ASC" if oldest_first else "DESC"
    rows = await db.fetchall(
        "SELECT * FROM ("
        " SELECT 'mention' AS kind, n.actor_id AS actor_id, n.id AS note_id, n.published AS at"
        "  FROM note_mentions nm JOIN notes n ON n.id = nm.note_id"
        "  WHERE nm.actor_uri = :viewer_uri AND n.actor_id != :viewer_id"
        " UNION ALL"
        " SELECT 'reply', n.actor_id, n.id, n.published FROM notes n"
        "  JOIN notes mine ON mine.uri = n.in_reply_to_uri"
        "  WHERE mine.actor_id = :viewer_id AND n.actor_id != :viewer_id"
        "  AND NOT EXISTS (SELECT 1 FROM note_mentions x"
        "   WHERE x.note_id = n.id AND x.actor_uri = :viewer_uri)"
        f"  AND {_visible_sql('n')}"
        " UNION ALL"
        " SELECT CASE f.state WHEN 'accepted' THEN 'follow' ELSE 'follow_request' END,"
        "  f.follower_id, NULL, f.created_at FROM follows f WHERE f.followee_id = :viewer_id"
        " UNION ALL"
        " SELECT 'like', r.actor_id, r.note_id, r.created_at FROM reactions r"
        "  JOIN notes n ON n.id = r.note_id"
        "  WHERE n.actor_id = :viewer_id AND r.actor_id != :viewer_id"
        " UNION ALL"
        " SELECT 'boost', b.actor_id, b.note_id, b.published FROM announces b"
        "  JOIN notes n ON n.id = b.note_id"
        "  WHERE n.actor_id = :viewer_id AND b.actor_id != :viewer_id"
        " UNION ALL"
        " SELECT 'update', n.actor_id, n.id, v.replaced_at FROM note_revisions v"
        "  JOIN notes n ON n.id = v.note_id JOIN announces b ON b.note_id = n.id"
        "  WHERE b.actor_id = :viewer_id AND n.actor_id != :viewer_id"
        " UNION ALL"
        " SELECT 'status', n.actor_id, n.id, n.published FROM follows f"
        "  JOIN notes n ON n.actor_id = f.followee_id"
        "  WHERE f.follower_id = :viewer_id AND f.notify = 1 AND f.state = 'accepted'"
        "  AND n.in_reply_to_uri IS NULL AND n.visibility != 'direct'"
        "  AND NOT EXISTS (SELECT 1 FROM note_mentions x"
        "   WHERE x.note_id = n.id AND x.actor_uri = :viewer_uri)"
        " UNION ALL"
        " SELECT 'poll', n.actor_id, n.id, p.closed_at FROM polls p"
        "  JOIN notes n ON n.id = p.note_id"
        "  WHERE p.closed_at IS NOT NULL AND n.actor_id = :viewer_id"
        " UNION ALL"
        " SELECT 'poll', n.actor_id, n.id, p.closed_at"
        "  FROM (SELECT DISTINCT note_id FROM poll_votes WHERE voter_id = :viewer_id) v"
        "  JOIN polls p ON p.note_id = v.note_id JOIN notes n ON n.id = p.note_id"
        "  WHERE p.closed_at IS NOT NULL AND n.actor_id != :viewer_id"
        f") WHERE at < :before AND at > :after AND actor_id NOT IN ({SUSPENDED_IDS})"
        f" ORDER BY at {order} LIMIT :limit",
        {
            "viewer_id": viewer_id,
            "viewer_uri": viewer_uri,
            "before": before if before is not None else 1e18,
            "after": after if after is not None else -1e18,
            "limit": limit,
        },
    )
    found = [Notification(r[0], r[1], r[2], r[3]) for r in rows]
    return found[::-1] if oldest_first else found
