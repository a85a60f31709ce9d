"""Local actors' private keys live in their account rows (migration 0027, issue 15): any process
on any machine sharing the database signs for any account, and keys from before the migration
are imported from their files without being lost. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from support.keys import reusable_key, seed_key_file

from fediverse_ai.accounts import ensure_account, import_key_files
from fediverse_ai.config import Config, parse_config
from fediverse_ai.httpsig import verify_request
from fediverse_ai.httpsig_common import ResolvedKey
from fediverse_ai.models import Account
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import account_keys, actors
from fediverse_ai.userdata.deletion import purge

INBOX = "https://peer.example/inbox"


def machine(tmp_path: Path, store: Path | str, name: str) -> Config:
    """One web/worker machine: the shared database, its own disk for keys and media."""
    raw = {
        "instance": {"domain": "localhost:8123", "scheme": "http"},
        "storage": {
            "database": str(store),
            "media_dir": f"{name}/media",
            "keys_dir": f"{name}/keys",
        },
    }
    return parse_config(raw, base_dir=tmp_path)


async def row_key(state: State, username: str) -> str | None:
    account = await actors.account_by_username(state.db, username)
    assert account is not None
    return await account_keys.private_key(state.db, account.actor.id)


async def signs_verifiably(state: State, account: Account) -> bool:
    """Sign a delivery POST as ``account`` in ``state`` and verify it against the public key the
    actor publishes (its actor row, which the actor document serves)."""
    body = b'{"type": "Create"}'
    auth = await state.auth_for(account)
    sent = {"content-type": "application/activity+json"}
    headers = {**sent, **auth.headers_for("POST", INBOX, sent, body)}
    published = await actors.account_by_actor_id(state.db, account.actor.id)
    assert published is not None and published.actor.public_key_pem

    async def fetch_key(key_id: str, refresh: bool) -> ResolvedKey:
        assert published.actor.public_key_pem is not None
        return ResolvedKey(key_id, published.actor.uri, published.actor.public_key_pem)

    verified = await verify_request(
        "POST", INBOX, headers, body, fetch_key=fetch_key, now=datetime.now(UTC)
    )
    return verified.owner == account.actor.uri


async def test_a_new_account_keeps_its_key_in_its_row(tmp_path: Path, store: Path | str) -> None:
    config = machine(tmp_path, store, "one")
    async with open_state(config) as state:
        alice = await ensure_account(state, "alice", role="user")
        pem = await row_key(state, "alice")
        assert pem is not None and pem.startswith("-----BEGIN PRIVATE KEY-----")
        assert not (config.storage.keys_dir / "alice.pem").exists()  # no file is written
        assert await signs_verifiably(state, alice)


async def test_a_key_only_in_its_file_is_imported_and_the_file_is_then_not_needed(
    tmp_path: Path, store: Path | str
) -> None:
    config = machine(tmp_path, store, "one")
    keys = config.storage.keys_dir
    for name in ("old", "older", "lost"):
        seed_key_file(keys, f"{name}.pem", f"keys:{name}")
    async with open_state(config) as state:
        accounts = [await ensure_account(state, n, role="user") for n in ("old", "older", "lost")]
        # As an installation from before migration 0027 has them: the key in its file only.
        await state.db.execute("UPDATE accounts SET private_key_pem = NULL")
    (keys / "lost.pem").unlink()

    async with open_state(config) as state:  # a process started after the upgrade
        old = accounts[0]
        assert await signs_verifiably(state, old)  # first use: read from the file, stored
        assert await row_key(state, "old") == reusable_key("keys:old")[0]
        imported, missing = await import_key_files(state)  # what `fediverse-ai init` runs
        assert (imported, missing) == (1, [str(keys / "lost.pem")])
        assert await row_key(state, "older") == reusable_key("keys:older")[0]
        assert await row_key(state, "lost") is None
        assert await import_key_files(state) == (0, [str(keys / "lost.pem")])  # once is enough

    for name in ("old", "older"):
        (keys / f"{name}.pem").unlink()
    async with open_state(config) as state:
        assert await signs_verifiably(state, accounts[0])
        assert await signs_verifiably(state, accounts[1])


async def test_an_account_made_on_one_machine_signs_on_another(
    tmp_path: Path, store: Path | str
) -> None:
    one, two = machine(tmp_path, store, "one"), machine(tmp_path, store, "two")
    async with open_state(one) as first, open_state(two) as second:
        bob = await ensure_account(first, "bob", role="user")
        assert not any(two.storage.keys_dir.glob("*")) and not any(one.storage.keys_dir.glob("*"))
        # The second machine's worker finds the sender of a queued delivery and signs as it.
        sender = await second.sender(bob.actor.id)
        assert sender is not None
        assert await signs_verifiably(second, sender)
        assert await signs_verifiably(first, bob)
        assert await first.private_key(bob) == await second.private_key(sender)


async def test_purging_a_deleted_account_removes_its_key(tmp_path: Path, store: Path | str) -> None:
    config = machine(tmp_path, store, "one")
    seed_key_file(config.storage.keys_dir, "vic.pem", "keys:vic")
    async with open_state(config) as state:
        vic = await ensure_account(state, "vic", role="user")
        assert await row_key(state, "vic") is not None
        assert (config.storage.keys_dir / "vic.pem").exists()  # a file left from before
        await state.db.execute(
            "UPDATE accounts SET deleted_at = ? WHERE actor_id = ?", (time.time(), vic.actor.id)
        )
        await purge(state, {"actor_id": vic.actor.id})
        assert await account_keys.private_key(state.db, vic.actor.id) is None
        assert await state.db.fetchval("SELECT COUNT(*) FROM accounts") == 0
        assert not (config.storage.keys_dir / "vic.pem").exists()
