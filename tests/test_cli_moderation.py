"""``fediverse-ai moderation ...`` run as the real console entry point (a subprocess) against a
running instance's config and database, with a signed remote peer on loopback."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from support.live import LiveServer, live_server
from support.remote import PUBLIC, remote_server
from test_cli import cli, ok
from web.test_pages import post

import fediverse_ai.state as state_module
from fediverse_ai.federation import moderation
from fediverse_ai.storage import actors, notes
from fediverse_ai.storage import moderation as standing


async def run(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    config = server.config.path  # live_server's own
    assert config is not None
    return await asyncio.to_thread(cli, "moderation", *args, config=config, cwd=config.parent)


async def test_moderation_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server re-reads suspensions every few seconds; the CLI's must count at once here.
    monkeypatch.setattr(state_module, "BLOCKS_TTL_SECONDS", 0.0)
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        alice = await server.account("alice")
        await remote.send(server.shared_inbox, remote.activity("bob", "Follow", alice.actor.uri))
        theirs = remote.note("bob", "<p>remote spam</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", theirs))
        flag = remote.activity("bob", "Flag", [alice.actor.uri], content="alice is rude")
        await remote.send(server.shared_inbox, flag)
        await server.drain()
        bob = await actors.by_uri(server.state.db, remote.actor_uri("bob"))
        stored = await notes.by_uri(server.state.db, theirs["id"])
        assert bob is not None and stored is not None
        await moderation.report(
            server.state, alice, bob, [stored], comment="spam from bob", forward=False
        )
        # reports: both, local and remote, with what they name
        listed = ok(await run(server, "reports"))
        assert "alice is rude" in listed and "spam from bob" in listed
        assert "\tlocal\t" in listed and "\tremote\t" in listed and theirs["id"] in listed
        remote_id = next(line.split("\t")[0] for line in listed.splitlines() if "remote" in line)
        assert ok(await run(server, "resolve", remote_id)) == f"resolved report {remote_id}\n"
        assert "alice is rude" not in ok(await run(server, "reports"))
        assert "alice is rude" in ok(await run(server, "reports", "--all"))
        # suspend / unsuspend by handle, silence / unsilence by local username
        handle = f"bob@{bob.domain}"
        assert ok(await run(server, "suspend", handle)).startswith("suspended: ")
        assert await standing.is_suspended(server.state.db, bob.id)
        refused = await remote.send(
            server.shared_inbox, remote.activity("bob", "Like", alice.actor.uri)
        )
        assert refused.status_code == 403
        assert "suspended" in ok(await run(server, "accounts"))
        ok(await run(server, "unsuspend", bob.uri))
        assert not await standing.is_suspended(server.state.db, bob.id)
        assert ok(await run(server, "silence", "alice")).startswith("silenced: alice@")
        assert (await standing.standing(server.state.db, alice.actor.id)).silenced
        ok(await run(server, "unsilence", "alice"))
        assert "no suspended or silenced accounts" in ok(await run(server, "accounts"))
        # remove-post: a remote one by its id, a local one by its number (a Delete goes out)
        ok(await run(server, "remove-post", theirs["id"]))
        assert await notes.by_uri(server.state.db, theirs["id"]) is None
        mine = await post(server, "alice", "something to take back")
        local = await notes.by_uri(server.state.db, mine)
        assert local is not None
        assert "a Delete is sent" in ok(await run(server, "remove-post", str(local.id)))
        await server.drain()
        (delete,) = remote.posts(type="Delete")
        assert delete.verified and delete.activity is not None
        assert delete.activity["object"]["id"] == mine
        # Mistakes are clear errors, exit 1, no traceback
        for args in (
            ("suspend", "nobody"),
            ("remove-post", "https://nowhere.example/x"),
            ("resolve", "99999"),
            ("suspend", server.ai.actor.username),
        ):
            failed = await run(server, *args)
            assert failed.returncode == 1 and failed.stderr.startswith("error: "), failed
            assert "Traceback" not in failed.stderr
