"""Local actors' private keys, kept in their account rows (migration 0027).

The row is the one copy every process and machine sharing the database can read; a key made
before the migration is only in its file under ``storage.keys_dir`` until it is imported here.
"""

from __future__ import annotations

from .db import Database


async def private_key(db: Database, actor_id: int) -> str | None:
    """The account's PEM, or None when it has not been imported from its file yet."""
    value = await db.fetchval(
        "SELECT private_key_pem FROM accounts WHERE actor_id = ?", (actor_id,)
    )
    return str(value) if value is not None else None


async def import_private_key(db: Database, actor_id: int, pem: str) -> str | None:
    """Store a key read from its file unless the row has one already, and return the row's key
    (None when the account is gone): a key another machine stored first wins, so every process
    signs with the key the actor publishes."""
    await db.execute(
        "UPDATE accounts SET private_key_pem = ? WHERE actor_id = ? AND private_key_pem IS NULL",
        (pem, actor_id),
    )
    return await private_key(db, actor_id)


async def without_key(db: Database) -> list[tuple[int, str]]:
    """(actor id, key file name) of the accounts whose key is still only in a file."""
    rows = await db.fetchall(
        "SELECT actor_id, key_file FROM accounts WHERE private_key_pem IS NULL ORDER BY actor_id"
    )
    return [(int(r["actor_id"]), str(r["key_file"])) for r in rows]
