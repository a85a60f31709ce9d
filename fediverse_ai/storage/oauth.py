"""OAuth 2 apps, authorization codes and access tokens of the client API.

Every secret (client secret, code, access and refresh token) is a random 32-byte value that the
client holds; the database keeps its SHA-256 only (``sessions.token_hash``), so a copy of the
database opens nothing.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass

from .db import Database
from .sessions import token_hash

CODE_LIFETIME_S = 600.0


def new_secret() -> str:
    """A fresh client secret, code or token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class App:
    id: int
    client_id: str
    name: str
    website: str | None
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    secret_hash: str


@dataclass(frozen=True)
class Code:
    app_id: int
    actor_id: int
    scopes: tuple[str, ...]
    redirect_uri: str
    code_challenge: str | None
    expires_at: float
    used_at: float | None


@dataclass(frozen=True)
class Token:
    id: int
    app_id: int
    actor_id: int | None
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None


def is_live(token: Token, *, now: float) -> bool:
    """Neither revoked nor expired."""
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


@dataclass(frozen=True)
class Issued:
    """A token pair as handed to the client once (only the hashes are kept)."""

    access_token: str
    refresh_token: str
    token: Token


_APP_COLS = "id, client_id, name, website, redirect_uris, scopes, secret_hash"
_TOKEN_COLS = "id, app_id, actor_id, scopes, created_at, expires_at, revoked_at"  # noqa: S105


def _app(row: sqlite3.Row) -> App:
    return App(
        id=row[0],
        client_id=row[1],
        name=row[2],
        website=row[3],
        redirect_uris=tuple(u for u in row[4].split("\n") if u),
        scopes=tuple(row[5].split()),
        secret_hash=row[6],
    )


def _token(row: sqlite3.Row) -> Token:
    return Token(
        id=row[0],
        app_id=row[1],
        actor_id=row[2],
        scopes=tuple(row[3].split()),
        created_at=row[4],
        expires_at=row[5],
        revoked_at=row[6],
    )


async def create_app(
    db: Database,
    *,
    name: str,
    website: str | None,
    redirect_uris: tuple[str, ...],
    scopes: tuple[str, ...],
    now: float,
) -> tuple[App, str]:
    """Register an app; returns it with its client secret (shown once, stored hashed)."""
    client_id = new_secret()
    secret = new_secret()
    app_id = await db.execute(
        "INSERT INTO oauth_apps (client_id, secret_hash, name, website, redirect_uris, scopes,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            client_id,
            token_hash(secret),
            name,
            website,
            "\n".join(redirect_uris),
            " ".join(scopes),
            now,
        ),
    )
    found = await app_by_id(db, app_id)
    assert found is not None
    return found, secret


async def app_by_client_id(db: Database, client_id: str) -> App | None:
    row = await db.fetchone(f"SELECT {_APP_COLS} FROM oauth_apps WHERE client_id = ?", (client_id,))
    return _app(row) if row else None


async def app_by_id(db: Database, app_id: int) -> App | None:
    row = await db.fetchone(f"SELECT {_APP_COLS} FROM oauth_apps WHERE id = ?", (app_id,))
    return _app(row) if row else None


async def apps_by_ids(db: Database, app_ids: list[int]) -> dict[int, App]:
    if not app_ids:
        return {}
    marks = ",".join("?" * len(app_ids))
    rows = await db.fetchall(f"SELECT {_APP_COLS} FROM oauth_apps WHERE id IN ({marks})", app_ids)
    return {r[0]: _app(r) for r in rows}


async def create_code(
    db: Database,
    *,
    app_id: int,
    actor_id: int,
    scopes: tuple[str, ...],
    redirect_uri: str,
    code_challenge: str | None,
    now: float,
) -> str:
    code = new_secret()
    await db.execute(
        "INSERT INTO oauth_codes (code_hash, app_id, actor_id, scopes, redirect_uri,"
        " code_challenge, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            token_hash(code),
            app_id,
            actor_id,
            " ".join(scopes),
            redirect_uri,
            code_challenge,
            now,
            now + CODE_LIFETIME_S,
        ),
    )
    return code


async def take_code(db: Database, code: str, *, now: float) -> Code | None:
    """The code's grant, marked used in the same transaction: a second exchange of the same
    code, even a concurrent one, finds it used (and the caller refuses it)."""

    def work(conn: sqlite3.Connection) -> Code | None:
        row = conn.execute(
            "SELECT app_id, actor_id, scopes, redirect_uri, code_challenge, expires_at, used_at"
            " FROM oauth_codes WHERE code_hash = ?",
            (token_hash(code),),
        ).fetchone()
        if row is None:
            return None
        conn.execute(
            "UPDATE oauth_codes SET used_at = COALESCE(used_at, ?) WHERE code_hash = ?",
            (now, token_hash(code)),
        )
        return Code(
            app_id=row[0],
            actor_id=row[1],
            scopes=tuple(row[2].split()),
            redirect_uri=row[3],
            code_challenge=row[4],
            expires_at=row[5],
            used_at=row[6],
        )

    return await db.transaction(work)


async def issue_token(
    db: Database,
    *,
    app_id: int,
    actor_id: int | None,
    scopes: tuple[str, ...],
    now: float,
    replaces: int | None = None,
    code: str | None = None,
) -> Issued:
    """A new access and refresh token; ``replaces`` (a refreshed token's id) is revoked in the
    same transaction, so a refresh token works once. ``code``: the authorization code it is
    issued for, remembered so that a replay of the code can revoke it."""
    access, refresh = new_secret(), new_secret()

    def work(conn: sqlite3.Connection) -> int:
        if replaces is not None:
            conn.execute(
                "UPDATE oauth_tokens SET revoked_at = ?, refresh_hash = NULL WHERE id = ?",
                (now, replaces),
            )
        cur = conn.execute(
            "INSERT INTO oauth_tokens (token_hash, refresh_hash, app_id, actor_id, scopes,"
            " created_at, code_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                token_hash(access),
                token_hash(refresh),
                app_id,
                actor_id,
                " ".join(scopes),
                now,
                token_hash(code) if code else None,
            ),
        )
        return int(cur.lastrowid or 0)

    token_id = await db.transaction(work)
    token = Token(token_id, app_id, actor_id, scopes, now, None, None)
    return Issued(access_token=access, refresh_token=refresh, token=token)


async def token_by_access(db: Database, access_token: str) -> Token | None:
    row = await db.fetchone(
        f"SELECT {_TOKEN_COLS} FROM oauth_tokens WHERE token_hash = ?", (token_hash(access_token),)
    )
    return _token(row) if row else None


async def token_by_refresh(db: Database, refresh_token: str) -> Token | None:
    row = await db.fetchone(
        f"SELECT {_TOKEN_COLS} FROM oauth_tokens WHERE refresh_hash = ? AND revoked_at IS NULL",
        (token_hash(refresh_token),),
    )
    return _token(row) if row else None


async def revoke_token(db: Database, token_id: int, *, now: float) -> None:
    await db.execute(
        "UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, ?), refresh_hash = NULL"
        " WHERE id = ?",
        (now, token_id),
    )


async def revoke_issued_for_code(db: Database, code: str, *, now: float) -> None:
    """RFC 6749 §4.1.2: a code used twice was probably stolen; what it gave is taken back."""
    await db.execute(
        "UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, ?), refresh_hash = NULL"
        " WHERE code_hash = ?",
        (now, token_hash(code)),
    )


async def revoke_app_for(db: Database, actor_id: int, app_id: int, *, now: float) -> int:
    """Revoke every token of ``app_id`` that ``actor_id`` granted; returns how many."""
    async with db.write() as conn:
        cur = await conn.execute(
            "UPDATE oauth_tokens SET revoked_at = ?, refresh_hash = NULL"
            " WHERE actor_id = ? AND app_id = ? AND revoked_at IS NULL",
            (now, actor_id, app_id),
        )
        return cur.rowcount


@dataclass(frozen=True)
class Authorised:
    """An app an account has live tokens for (the settings page's list)."""

    app: App
    scopes: tuple[str, ...]
    since: float


async def authorised_apps(db: Database, actor_id: int, *, now: float) -> list[Authorised]:
    rows = await db.fetchall(
        "SELECT app_id, GROUP_CONCAT(scopes, ' '), MIN(created_at) FROM oauth_tokens"
        " WHERE actor_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"
        " GROUP BY app_id ORDER BY MIN(created_at)",
        (actor_id, now),
    )
    apps = await apps_by_ids(db, [r[0] for r in rows])
    return [
        Authorised(app=apps[r[0]], scopes=tuple(dict.fromkeys(r[1].split())), since=r[2])
        for r in rows
        if r[0] in apps
    ]
