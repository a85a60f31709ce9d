"""The home timeline query (``storage.timelines.home``, the web UI's /home and the client API's)
against the rule it implements, computed by hand: own posts, followed accounts' posts (not
their direct ones), mentions, boosts by followed accounts; newest first, paged by cursor
without gaps or repeats, and the ``after``/``oldest_first`` page of the API's ``min_id``."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from test_storage import T0, db, remote_actor  # noqa: F401 (the fixture)

from fediverse_ai.storage import timelines
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.notes import NoteRow, insert

VISIBILITIES = ("public", "unlisted", "followers", "direct")


async def test_home_pages_follow_the_rule(db: Database, tmp_path: Path) -> None:  # noqa: F811
    me, followed, stranger, booster = [await remote_actor(db, n) for n in ("me", "f", "s", "b")]
    rnd = random.Random(14)
    expected: list[tuple[float, int]] = []

    def seed(conn: sqlite3.Connection) -> None:
        for follower, followee in ((me, followed), (me, booster), (stranger, me)):
            conn.execute(
                "INSERT INTO follows (follower_id, followee_id, state, created_at)"
                " VALUES (?, ?, 'accepted', ?)",
                (follower.id, followee.id, T0),
            )
        for i in range(600):
            author = rnd.choice((me, followed, followed, stranger, booster))
            visibility = rnd.choice(VISIBILITIES)
            mentions = [me.uri] if author is stranger and rnd.random() < 0.3 else []
            at = T0 + rnd.choice((i, i, i + 0.5, i // 2))  # ties too
            note_id = insert(
                conn,
                NoteRow(
                    uri=f"https://remote.example/n/{i}",
                    actor_id=author.id,
                    local=False,
                    content="<p>x</p>",
                    visibility=visibility,  # type: ignore[arg-type]
                    published=at,
                    published_text="",
                    mentions=mentions,
                ),
                now=at,
            )
            assert note_id is not None
            if (
                author is me
                or (author in (followed, booster) and visibility != "direct")
                or mentions
            ):
                expected.append((at, note_id))
            if author is stranger and visibility in ("public", "unlisted") and i % 5 == 0:
                cur = conn.execute(
                    "INSERT INTO announces (uri, actor_id, note_id, published) VALUES (?, ?, ?, ?)",
                    (f"https://remote.example/b/{i}", booster.id, note_id, at + 0.25),
                )
                expected.append((at + 0.25, -int(cur.lastrowid or 0)))

    await db.transaction(seed)
    expected.sort(reverse=True)
    seen: list[tuple[float, int]] = []
    cursor = None
    while True:
        page = await timelines.home(db, me.id, me.uri, cursor=cursor, limit=40)
        if not page:
            break
        seen += [(i.at, i.key) for i in page]
        cursor = (page[-1].at, page[-1].key)
    assert seen == expected
    newer = await timelines.home(
        db, me.id, me.uri, cursor=None, limit=40, after=expected[100], oldest_first=True
    )
    assert [(i.at, i.key) for i in newer] == expected[60:100]
