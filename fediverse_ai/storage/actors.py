"""Actors, local and remote, and the accounts that let us act as local ones."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

import aiosqlite

from ..as2_in import RemoteActorDoc
from ..models import Account, Actor, Role
from .db import Database

_COLUMNS = (
    "id, uri, local, username, domain, type, display_name, summary, url, inbox, shared_inbox, "
    "outbox, followers_url, following_url, featured_url, icon_url, image_url, public_key_id, "
    "public_key_pem, manually_approves, discoverable, indexable, fields_json, published, "
    "fetched_at, also_known_as_json, moved_to, emojis_json"
)


def row_to_actor(row: sqlite3.Row) -> Actor:
    fields = tuple((str(n), str(v)) for n, v in json.loads(row["fields_json"] or "[]"))
    return Actor(
        id=row["id"],
        uri=row["uri"],
        local=bool(row["local"]),
        username=row["username"],
        domain=row["domain"],
        type=row["type"],
        display_name=row["display_name"],
        summary=row["summary"],
        url=row["url"],
        inbox=row["inbox"],
        shared_inbox=row["shared_inbox"],
        outbox=row["outbox"],
        followers_url=row["followers_url"],
        following_url=row["following_url"],
        featured_url=row["featured_url"],
        icon_url=row["icon_url"],
        image_url=row["image_url"],
        public_key_id=row["public_key_id"],
        public_key_pem=row["public_key_pem"],
        manually_approves=bool(row["manually_approves"]),
        discoverable=bool(row["discoverable"]),
        indexable=bool(row["indexable"]),
        fields=fields,
        published=row["published"],
        fetched_at=row["fetched_at"],
        also_known_as=tuple(str(a) for a in json.loads(row["also_known_as_json"] or "[]")),
        moved_to=row["moved_to"],
        emojis=tuple((str(c), str(u)) for c, u in json.loads(row["emojis_json"] or "[]")),
    )


async def _one(db: Database, where: str, params: tuple[object, ...]) -> Actor | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM actors WHERE {where}", params)
    return row_to_actor(row) if row else None


async def by_id(db: Database, actor_id: int) -> Actor | None:
    return await _one(db, "id = ?", (actor_id,))


async def by_uri(db: Database, uri: str) -> Actor | None:
    return await _one(db, "uri = ?", (uri,))


async def by_key_id(db: Database, key_id: str) -> Actor | None:
    return await _one(db, "public_key_id = ?", (key_id,))


async def local_by_username(db: Database, username: str) -> Actor | None:
    """A local actor by name; a deleted account's actor is not found (it answers 410)."""
    return await _one(
        db,
        "local = 1 AND username = ? AND id NOT IN"
        " (SELECT actor_id FROM accounts WHERE deleted_at IS NOT NULL)",
        (username.lower(),),
    )


async def by_acct(db: Database, username: str, domain: str) -> Actor | None:
    return await _one(db, "username = ? AND domain = ? ORDER BY local DESC", (username, domain))


async def insert_local(
    conn: aiosqlite.Connection,
    *,
    uri: str,
    username: str,
    domain: str,
    actor_type: str,
    display_name: str,
    summary: str,
    urls: dict[str, str],
    public_key_pem: str,
    now: float,
) -> int:
    cur = await conn.execute(
        "INSERT INTO actors (uri, local, username, domain, type, display_name, summary, url, inbox,"
        " shared_inbox, outbox, followers_url, following_url, featured_url, public_key_id,"
        " public_key_pem, discoverable, indexable, published, updated_at)"
        " VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?)",
        (
            uri,
            username,
            domain,
            actor_type,
            display_name,
            summary,
            urls["url"],
            urls["inbox"],
            urls["shared_inbox"],
            urls["outbox"],
            urls["followers"],
            urls["following"],
            urls["featured"],
            urls["key_id"],
            public_key_pem,
            now,
            now,
        ),
    )
    return int(cur.lastrowid or 0)


async def update_local_profile(
    db: Database,
    actor_id: int,
    *,
    display_name: str,
    summary: str,
    manually_approves: bool,
    now: float,
) -> None:
    await db.execute(
        "UPDATE actors SET display_name = ?, summary = ?, manually_approves = ?, updated_at = ?"
        " WHERE id = ? AND local = 1",
        (display_name, summary, int(manually_approves), now, actor_id),
    )


async def upsert_remote(
    db: Database, doc: RemoteActorDoc, *, domain: str, summary: str, now: float
) -> Actor:
    """Insert or refresh a remote actor from its (already origin-checked) document."""
    fields_json = json.dumps([list(f) for f in doc.fields])
    async with db.write() as conn:
        await conn.execute(
            "INSERT INTO actors (uri, local, username, domain, type, display_name, summary, url,"
            " inbox, shared_inbox, outbox, followers_url, following_url, featured_url, icon_url,"
            " image_url, public_key_id, public_key_pem, manually_approves, discoverable, indexable,"
            " fields_json, published, fetched_at, updated_at, first_seen, also_known_as_json,"
            " moved_to, emojis_json)"
            " VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?)"
            " ON CONFLICT(uri) DO UPDATE SET username = excluded.username, type = excluded.type,"
            " display_name = excluded.display_name, summary = excluded.summary, url = excluded.url,"
            " inbox = excluded.inbox, shared_inbox = excluded.shared_inbox,"
            " outbox = excluded.outbox,"
            " followers_url = excluded.followers_url, following_url = excluded.following_url,"
            " featured_url = excluded.featured_url, icon_url = excluded.icon_url,"
            " image_url = excluded.image_url, public_key_id = excluded.public_key_id,"
            " public_key_pem = excluded.public_key_pem,"
            " manually_approves = excluded.manually_approves, discoverable = excluded.discoverable,"
            " indexable = excluded.indexable, fields_json = excluded.fields_json,"
            " fetched_at = excluded.fetched_at, updated_at = excluded.updated_at,"
            " also_known_as_json = excluded.also_known_as_json, moved_to = excluded.moved_to,"
            " emojis_json = excluded.emojis_json"
            " WHERE actors.local = 0",
            (
                doc.uri,
                doc.username,
                domain,
                doc.type,
                doc.display_name,
                summary,
                doc.url,
                doc.inbox,
                doc.shared_inbox,
                doc.outbox,
                doc.followers,
                doc.following,
                doc.featured,
                doc.icon_url,
                doc.image_url,
                doc.key_id,
                doc.key_pem,
                int(doc.manually_approves),
                int(doc.discoverable),
                int(doc.indexable),
                fields_json,
                doc.published or now,
                now,
                now,
                now,
                json.dumps(list(doc.also_known_as)),
                doc.moved_to,
                json.dumps([[e.shortcode, e.url] for e in doc.emojis]),
            ),
        )
    actor = await by_uri(db, doc.uri)
    assert actor is not None
    return actor


async def set_local_aliases(
    db: Database, actor_id: int, *, also_known_as: Sequence[str], moved_to: str | None, now: float
) -> None:
    """A local account's ``alsoKnownAs`` and ``movedTo`` (account migration)."""
    await db.execute(
        "UPDATE actors SET also_known_as_json = ?, moved_to = ?, updated_at = ?"
        " WHERE id = ? AND local = 1",
        (json.dumps(list(also_known_as)), moved_to, now, actor_id),
    )


async def first_seen(db: Database, actor_id: int) -> float | None:
    """When this server first stored the actor (``published`` is only what the actor claims)."""
    value = await db.fetchval("SELECT first_seen FROM actors WHERE id = ?", (actor_id,))
    return float(value) if value is not None else None


async def delete_remote(db: Database, uri: str) -> bool:
    """Purge a remote actor and, by cascade, its notes, follows and reactions."""
    async with db.write() as conn:
        cur = await conn.execute("DELETE FROM actors WHERE uri = ? AND local = 0", (uri,))
        return cur.rowcount > 0


async def create_account(
    conn: aiosqlite.Connection,
    actor_id: int,
    *,
    role: Role,
    key_file: str,
    private_key_pem: str,
    is_admin: bool,
    password_hash: str | None,
    now: float,
) -> None:
    await conn.execute(
        "INSERT INTO accounts (actor_id, role, key_file, private_key_pem, is_admin,"
        " password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (actor_id, role, key_file, private_key_pem, int(is_admin), password_hash, now),
    )


def _row_to_account(row: sqlite3.Row) -> Account:
    return Account(
        actor=row_to_actor(row),
        role=row["role"],
        key_file=row["key_file"],
        is_admin=bool(row["is_admin"]),
    )


_ACCOUNT_SELECT = (
    f"SELECT {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))},"
    " acc.role, acc.key_file, acc.is_admin FROM accounts acc JOIN actors a ON a.id = acc.actor_id"
)


async def account_by_username(db: Database, username: str) -> Account | None:
    row = await db.fetchone(f"{_ACCOUNT_SELECT} WHERE a.username = ?", (username.lower(),))
    return _row_to_account(row) if row else None


async def account_by_actor_id(db: Database, actor_id: int) -> Account | None:
    row = await db.fetchone(f"{_ACCOUNT_SELECT} WHERE a.id = ?", (actor_id,))
    return _row_to_account(row) if row else None


async def account_by_role(db: Database, role: Role) -> Account | None:
    row = await db.fetchone(f"{_ACCOUNT_SELECT} WHERE acc.role = ? ORDER BY a.id LIMIT 1", (role,))
    return _row_to_account(row) if row else None


async def list_accounts(db: Database) -> list[Account]:
    rows = await db.fetchall(f"{_ACCOUNT_SELECT} ORDER BY a.id")
    return [_row_to_account(r) for r in rows]


async def count_users(db: Database) -> int:
    return int(await db.fetchval("SELECT COUNT(*) FROM accounts WHERE role != 'instance'") or 0)


async def set_images(db: Database, actor_id: int, *, icon_url: str, image_url: str) -> None:
    await db.execute(
        "UPDATE actors SET icon_url = ?, image_url = ? WHERE id = ? AND local = 1",
        (icon_url, image_url, actor_id),
    )


async def password_hash(db: Database, actor_id: int) -> str | None:
    value = await db.fetchval("SELECT password_hash FROM accounts WHERE actor_id = ?", (actor_id,))
    return str(value) if value else None


async def set_password_hash(db: Database, actor_id: int, value: str) -> None:
    await db.execute("UPDATE accounts SET password_hash = ? WHERE actor_id = ?", (value, actor_id))


async def set_admin(db: Database, actor_id: int, is_admin: bool) -> None:
    await db.execute(
        "UPDATE accounts SET is_admin = ? WHERE actor_id = ?", (int(is_admin), actor_id)
    )


async def by_ids(db: Database, actor_ids: Sequence[int]) -> dict[int, Actor]:
    ids = sorted(set(actor_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM actors WHERE id IN ({marks})", tuple(ids))
    return {r["id"]: row_to_actor(r) for r in rows}


async def set_email(db: Database, actor_id: int, email: str) -> None:
    await db.execute("UPDATE accounts SET email = ? WHERE actor_id = ?", (email or None, actor_id))
