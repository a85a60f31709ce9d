"""Consent and limits on every attempt, budgets that cannot be dodged, thread caps and context
that follow what we stored rather than what a sender claims.

Real HTTP on loopback (our server, the remote stand-in, a scripted OpenAI-compatible model:
see ``scripted.py``), real SQLite, the real worker.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from support.live import LiveServer, live_server
from support.remote import RemoteFediverse, remote_server

from fediverse_ai.as2_in import parse_actor, parse_note
from fediverse_ai.federation import remote_notes, trigger
from fediverse_ai.storage import actors, jobs
from fediverse_ai.vocab import host_of
from fediverse_ai.worker import Worker

from .scripted import ScriptedChat
from .test_ai_addressing import scripted_toml
from .test_bot import deliver, mention, replies


@asynccontextmanager
async def world(
    tmp_path: Path, chat: ScriptedChat, *, ai: str = "", limits: str = ""
) -> AsyncIterator[tuple[LiveServer, RemoteFediverse]]:
    toml = scripted_toml(chat).replace("[ai]\n", f"[ai]\n{ai}\n", 1)
    toml += f"\n[ai.limits]\n{limits}\n"
    async with (
        remote_server(("alice", "carol")) as remote,
        live_server(tmp_path / "ours", extra_toml=toml) as ours,
    ):
        yield ours, remote


async def reason_for(ours: LiveServer, activity: dict[str, Any]) -> str | None:
    value = await ours.state.db.fetchval(
        "SELECT reason FROM ai_replies WHERE mention_uri = ?", (activity["object"]["id"],)
    )
    return None if value is None else str(value)


async def usage(ours: LiveServer) -> int:
    return await ours.count("SELECT COALESCE(SUM(count), 0) FROM ai_usage")


async def test_consent_is_checked_again_after_a_worker_died_before_deciding(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given a #nobot author's image request whose first attempt was claimed by a worker that
    was killed, when the job runs again (attempt 2), then it still refuses."""
    async with world(tmp_path, chat) as (ours, remote):
        remote.users["carol"].display_name = "Carol #NoBot"
        activity = mention(ours, remote, "/image a lighthouse", username="carol")
        assert (await remote.send(ours.shared_inbox, activity)).status_code == 202
        assert await Worker(ours.state).run_once()  # the inbox job: it queues the answer
        db, now = ours.state.db, ours.state.now()
        host = socket.gethostname()
        claimed = await jobs.claim(db, now=now, lease_seconds=300, locked_by=f"{host}:1")
        assert claimed is not None and claimed.kind == trigger.AI_REPLY
        # The restarted server takes back the jobs of the process that died (kill -9).
        assert await jobs.release_orphans(db, host=host, alive=lambda pid: False, now=now) == 1
        await ours.drain()

        assert replies(remote, activity["object"]["id"]) == []
        assert await reason_for(ours, activity) == "author opted out (#nobot/#noai/#nollm)"
        assert chat.image_prompts == [] and await usage(ours) == 0


async def test_an_interrupted_answer_is_charged_once(tmp_path: Path, chat: ScriptedChat) -> None:
    """Given a worker stopped cleanly while generating (the attempt is handed back uncounted),
    when the answer runs again, then the daily budget and the account's bucket were charged
    once, not once per run."""
    chat.gate = gate = threading.Event()
    limits = "per_account_per_hour = 5\nnew_account_per_hour = 5"
    async with world(tmp_path, chat, limits=limits) as (ours, remote):
        activity = mention(ours, remote, "what is a lighthouse?")
        assert (await remote.send(ours.shared_inbox, activity)).status_code == 202
        stop = asyncio.Event()
        worker = asyncio.create_task(Worker(ours.state).run(stop))
        try:
            await asyncio.to_thread(chat.arrived.wait, 30)
        finally:
            stop.set()
            await worker
        assert replies(remote, activity["object"]["id"]) == []
        gate.set()
        await ours.drain()

        assert len(replies(remote, activity["object"]["id"])) == 1
        assert len(chat.requests) == 2  # generated twice, decided once
        assert await usage(ours) == 1
        tokens = await ours.state.db.fetchval(
            "SELECT tokens FROM rate_buckets WHERE key = ?",
            (f"account:{remote.actor_uri('alice')}",),
        )
        assert 3.9 < tokens < 4.1


async def test_new_accounts_are_dated_by_when_we_first_saw_them(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """An account that claims to be from 2010 but that we first saw today is new."""
    limits = "per_account_per_hour = 10\nnew_account_per_hour = 1\nnew_account_days = 7"
    async with world(tmp_path, chat, limits=limits) as (ours, remote):
        remote.users["alice"].actor_extra = {"published": "2010-01-01T00:00:00Z"}
        first = mention(ours, remote, "first question")
        await deliver(ours, remote, first)
        second = mention(ours, remote, "second question")
        await deliver(ours, remote, second)

        assert len(replies(remote, first["object"]["id"])) == 1
        assert replies(remote, second["object"]["id"]) == []
        assert await reason_for(ours, second) == "rate limit for this account"


async def known_actor(ours: LiveServer, remote: RemoteFediverse, uri: str) -> Any:
    """A remote actor as intake stores it; its inbox is the stand-in's, on loopback."""
    doc = remote.actor_document("alice") | {"id": uri, "preferredUsername": uri.rsplit("/")[-1]}
    doc["endpoints"] = {"sharedInbox": remote.shared_inbox}
    domain = host_of(uri) or ""
    return await actors.upsert_remote(
        ours.state.db, parse_actor(doc), domain=domain, summary="", now=ours.state.now()
    )


async def test_wildcard_subdomains_share_one_domain_limit(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given actors on a.wild.example, b.wild.example and c.wild.example (one registrable
    domain: wildcard DNS gives an attacker any number of names), when each asks once, then
    the per-domain limit of two holds for all three.

    Those names do not resolve, so their actors and mentions are stored as intake stores them
    after a verified POST; everything after that (queue, worker, answers) runs for real."""
    limits = "per_account_per_hour = 10\nnew_account_per_hour = 10\nper_domain_per_hour = 2"
    async with world(tmp_path, chat, limits=limits) as (ours, remote):
        asked = []
        for name in ("a", "b", "c"):
            actor = await known_actor(ours, remote, f"https://{name}.wild.example/users/{name}")
            note = parse_note(
                {
                    "id": f"https://{name}.wild.example/notes/1",
                    "type": "Note",
                    "attributedTo": actor.uri,
                    "content": f'<p><a href="{ours.ai.actor.uri}">@ai</a> question {name}</p>',
                    "to": [ours.ai.actor.uri],
                    "tag": [{"type": "Mention", "href": ours.ai.actor.uri}],
                }
            )
            stored = await remote_notes.store(ours.state, note, actor)
            assert stored is not None and await trigger.on_new_note(ours.state, stored)
            asked.append(stored.uri)
        await ours.drain()

        reasons = [
            await ours.state.db.fetchval(
                "SELECT COALESCE(reason, state) FROM ai_replies WHERE mention_uri = ?", (uri,)
            )
            for uri in asked
        ]
        assert reasons == ["done", "done", "rate limit for this domain"]
        assert len(remote.posts(type="Create")) == 2


async def test_thread_cap_holds_when_the_sender_names_a_fresh_context(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """The cap keys on the inReplyTo chain we stored, not on the `context` a note claims."""
    async with world(tmp_path, chat, ai="max_replies_per_thread = 1") as (ours, remote):
        first = mention(ours, remote, "first")
        await deliver(ours, remote, first)
        (reply,) = replies(remote, first["object"]["id"])
        follow_ups = [
            mention(ours, remote, "again", inReplyTo=reply["id"], context=remote.new_id("ctx")),
            mention(
                ours,
                remote,
                "me too",
                username="carol",
                inReplyTo=first["object"]["id"],
                context=remote.new_id("ctx"),
            ),
        ]
        for follow_up in follow_ups:
            await deliver(ours, remote, follow_up)
            assert replies(remote, follow_up["object"]["id"]) == []
            assert await reason_for(ours, follow_up) == "reply cap for this thread reached"


async def test_a_public_answer_does_not_quote_a_followers_only_answer(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given the AI's followers-only answer in a thread, when someone replies to it in public
    and mentions the AI, then the model is not shown that answer (nor the question)."""
    chat.answers = ["SECRET-ANSWER-42", "A public answer."]
    async with world(tmp_path, chat) as (ours, remote):
        private = mention(
            ours,
            remote,
            "secret question",
            to=(remote.followers("alice"),),
            cc=(ours.ai.actor.uri,),
        )
        await deliver(ours, remote, private)
        (answer,) = replies(remote, private["object"]["id"])
        assert "SECRET-ANSWER-42" in answer["content"] and answer["cc"] == [
            remote.actor_uri("alice")
        ]
        public = mention(ours, remote, "what did it say?", username="carol", inReplyTo=answer["id"])
        await deliver(ours, remote, public)

        assert len(replies(remote, public["object"]["id"])) == 1
        prompt = " ".join(m["content"] for m in chat.prompt())
        assert "what did it say?" in prompt
        assert "SECRET-ANSWER-42" not in prompt and "secret question" not in prompt
