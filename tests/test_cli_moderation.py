"""``fediverse-ai moderation ...`` run as the real console entry point (a subprocess) against a
running instance's config and database, with a signed remote peer on loopback."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest
from support.live import LiveServer, live_server
from support.remote import PUBLIC, remote_server
from test_ai_moderation import PROFANE, require
from test_cli import cli, ok
from web.test_pages import post

import fediverse_ai.state as state_module
from fediverse_ai.ai.moderation import TEXT_INSTALL
from fediverse_ai.federation import moderation
from fediverse_ai.modassist import reports
from fediverse_ai.storage import actors, mod_assist, notes
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


async def test_reports_show_their_summary_and_flags_can_be_listed_and_dismissed(
    tmp_path: Path,
) -> None:
    require("profanity_check", TEXT_INSTALL)
    assist = "\n[ai.moderation]\nassist = true\nsummarise_reports = false\n"
    async with (
        live_server(tmp_path / "ours", extra_toml=assist) as server,
        remote_server(("alice", "bob", "carol")) as remote,
    ):
        remote.users["carol"].actor_extra["indexable"] = False
        rude = remote.note("bob", f"<p>{PROFANE}</p>", to=[PUBLIC])
        refused = remote.note("carol", f"<p>{PROFANE}</p>", to=[PUBLIC])
        for doc in (rude, refused):
            author = str(doc["attributedTo"]).rsplit("/", 1)[1]
            await remote.send(server.shared_inbox, remote.activity(author, "Create", doc))
        flag = remote.activity("alice", "Flag", [rude["id"], refused["id"]], content="insults")
        await remote.send(server.shared_inbox, flag)
        await server.drain()
        # reports: the summary from the scores, said to be so, and the suggested action
        listed = ok(await run(server, "reports"))
        assert f"summary (from the scores, no model): {reports.OFF}" in listed
        assert "suggested action (from the scores, no model): silence" in listed
        assert "1 not scored (the author opted out)" in listed
        # A summary by a model is labelled machine-written; what it says cannot drive the terminal.
        [report_id] = [r[0] for r in await server.state.db.fetchall("SELECT id FROM reports")]
        said = "Insults.\x1b[2J\x07 Rude."
        by_model = mod_assist.Summary(
            report_id, said, "2 posts.", "suspend", "model", "offline", "smol", server.state.now()
        )
        assert await mod_assist.put_summary(server.state.db, by_model)
        listed = ok(await run(server, "reports"))
        assert "summary (machine-written by offline/smol): Insults. [2J Rude." in listed
        assert "suggested action (machine-written by offline/smol): suspend" in listed
        assert "\x1b" not in listed and "\x07" not in listed
        # flags: Bob's post with its score; Carol's not scored, counted
        stored = await notes.by_uri(server.state.db, rude["id"])
        assert stored is not None
        flags = ok(await run(server, "flags"))
        assert flags.startswith(f"{stored.id}\tbob@") and rude["id"] in flags
        assert re.search(
            r"flagged \(machine-written, by the moderation models\): offensive language "
            r"[01]\.\d\d \(alt-profanity-check\)",
            flags,
        )
        assert "shut the fuck up" in flags.lower()
        assert flags.endswith("1 post not scored: their authors did not consent\n")
        done = ok(await run(server, "flags", "--dismiss", str(stored.id)))
        assert done == f"dismissed the flags of post {stored.id}\n"
        again = ok(await run(server, "flags", "--dismiss", rude["id"]))
        assert again == f"post {stored.id} had no open flag\n"
        assert ok(await run(server, "flags")).startswith("no flagged posts\n")
        missing = await run(server, "flags", "--dismiss", "99999")
        assert missing.returncode == 1 and missing.stderr.startswith("error: no stored post")
