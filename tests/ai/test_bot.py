"""The AI actor end to end: a signed mention arrives, the worker drains, one reply is delivered.

Text comes from a real OpenAI-compatible server (llama.cpp's, with a tiny model the tests
write themselves); images from the procedural renderer. Our server and the remote peer
are real HTTP servers on loopback.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server

from .servers import LLAMA_API_KEY, RunningServer

pytestmark = pytest.mark.slow


def ai_toml(base_url: str, *, extra: str = "", limits: str = "") -> str:
    return f"""
[ai]
public_reply_visibility = "unlisted"
{extra}

[ai.text]
backend = "openai"
base_url = "{base_url}/v1"
api_key = "{LLAMA_API_KEY}"
model = "tiny"
max_tokens = 24
timeout_seconds = 30

[ai.image]
backend = "procedural"
width = 256
height = 192

[ai.limits]
attempts = 2
{limits}

[ai.moderation]
enabled = false
"""


@pytest.fixture
async def world(
    tmp_path: Path, llama_server: RunningServer
) -> AsyncIterator[tuple[LiveServer, RemoteFediverse]]:
    async with (
        remote_server(("alice", "carol", "botty")) as remote,
        live_server(tmp_path / "ours", extra_toml=ai_toml(llama_server.base_url)) as ours,
    ):
        yield ours, remote


def mention(
    ours: LiveServer,
    remote: RemoteFediverse,
    text: str,
    *,
    username: str = "alice",
    to: tuple[str, ...] = (PUBLIC,),
    cc: tuple[str, ...] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    ai = ours.ai.actor
    host = ours.config.instance.host
    note = remote.note(
        username,
        f'<p><span class="h-card"><a href="{ai.url}" class="u-url mention">@<span>ai</span></a>'
        f"</span> {text}</p>",
        to=to,
        cc=cc if cc is not None else (remote.followers(username), ai.uri),
        tag=[{"type": "Mention", "href": ai.uri, "name": f"@ai@{host}"}],
        **extra,
    )
    return remote.activity(username, "Create", note, to=list(to), cc=list(note["cc"]))


async def deliver(ours: LiveServer, remote: RemoteFediverse, activity: dict[str, Any]) -> None:
    response = await remote.send(ours.shared_inbox, activity)
    assert response.status_code == 202, response.text
    await ours.drain()


def replies(remote: RemoteFediverse, in_reply_to: str) -> list[dict[str, Any]]:
    found = []
    for post in remote.posts(type="Create"):
        assert post.verified, post.error
        obj = (post.activity or {}).get("object", {})
        if obj.get("inReplyTo") == in_reply_to:
            found.append(obj)
    return found


async def test_public_mention_gets_one_unlisted_threaded_reply(
    world: tuple[LiveServer, RemoteFediverse],
) -> None:
    ours, remote = world
    activity = mention(ours, remote, "what is a blurhash?")
    await deliver(ours, remote, activity)
    got = replies(remote, activity["object"]["id"])
    assert len(got) == 1
    reply = got[0]
    alice = remote.actor_uri("alice")
    assert reply["attributedTo"] == ours.ai.actor.uri
    assert reply["aiGenerated"] is True
    assert {"type": "Mention", "href": alice, "name": f"@alice@{remote.authority}"} in reply["tag"]
    assert reply["to"] == [ours.ai.actor.followers_url]
    assert PUBLIC in reply["cc"] and alice in reply["cc"]
    assert "u-url mention" in reply["content"] and "AI-generated (openai: " in reply["content"]
    # The reply is served at its id, and lists under the mention's thread context.
    served = await ours.get_as2(reply["id"])
    assert served.status_code == 200 and served.json()["inReplyTo"] == activity["object"]["id"]


async def test_direct_mention_gets_direct_reply(world: tuple[LiveServer, RemoteFediverse]) -> None:
    ours, remote = world
    activity = mention(ours, remote, "a secret question", to=(ours.ai.actor.uri,), cc=())
    await deliver(ours, remote, activity)
    (reply,) = replies(remote, activity["object"]["id"])
    assert reply["to"] == [remote.actor_uri("alice")]
    assert reply["cc"] == []
    posts = [p for p in remote.posts(type="Create") if p.activity["object"]["id"] == reply["id"]]
    assert [p.path for p in posts] == ["/users/alice/inbox"]


async def test_followers_only_mention_stays_followers_only(
    world: tuple[LiveServer, RemoteFediverse],
) -> None:
    ours, remote = world
    alice_followers = remote.followers("alice")
    activity = mention(
        ours, remote, "for my followers", to=(alice_followers,), cc=(ours.ai.actor.uri,)
    )
    await deliver(ours, remote, activity)
    (reply,) = replies(remote, activity["object"]["id"])
    assert reply["to"] == [ours.ai.actor.followers_url]
    assert reply["cc"] == [remote.actor_uri("alice")]
    assert PUBLIC not in reply["to"] + reply["cc"]


async def test_image_request_gets_an_image_with_alt_text(
    world: tuple[LiveServer, RemoteFediverse],
) -> None:
    ours, remote = world
    activity = mention(ours, remote, "draw a lighthouse in a storm")
    await deliver(ours, remote, activity)
    (reply,) = replies(remote, activity["object"]["id"])
    (attachment,) = reply["attachment"]
    assert "lighthouse in a storm" in attachment["name"]
    assert attachment["summary"] == attachment["name"]
    assert attachment["aiGenerated"] is True
    assert attachment["width"] == 256 and attachment["height"] == 192
    async with httpx.AsyncClient() as client:
        image = await client.get(attachment["url"])
    assert image.status_code == 200
    assert image.headers["content-type"] == attachment["mediaType"]
    picture = Image.open(io.BytesIO(image.content))
    picture.verify()
    assert picture.size == (256, 192)


async def test_a_subject_the_painter_cannot_draw_is_owned_up_to(
    world: tuple[LiveServer, RemoteFediverse],
) -> None:
    """Issue 20: "draw a cat" got hills and a caption as if all was well."""
    ours, remote = world
    activity = mention(ours, remote, "draw a cat")
    await deliver(ours, remote, activity)
    (reply,) = replies(remote, activity["object"]["id"])
    text = reply["content"]
    assert "I could not draw “cat”" in text and "only paints landscapes" in text
    assert re.search(r"A procedural \w+ over ", text)  # and what it drew instead
    (attachment,) = reply["attachment"]
    assert "could not draw" in attachment["name"]


async def test_duplicate_delivery_and_replay_give_one_reply(
    world: tuple[LiveServer, RemoteFediverse],
) -> None:
    ours, remote = world
    activity = mention(ours, remote, "only once please")
    await deliver(ours, remote, activity)
    await deliver(ours, remote, activity)
    # The same note in a new Create (a different activity id) is still one mention.
    again = remote.activity("alice", "Create", activity["object"])
    await deliver(ours, remote, again)
    assert len(replies(remote, activity["object"]["id"])) == 1


async def test_restart_mid_generation_publishes_exactly_once(
    world: tuple[LiveServer, RemoteFediverse],
) -> None:
    """A worker killed after publishing but before recording it: the rerun adds nothing."""
    ours, remote = world
    activity = mention(ours, remote, "say something")
    await deliver(ours, remote, activity)
    mention_uri = activity["object"]["id"]
    assert len(replies(remote, mention_uri)) == 1
    notes_before = await ours.count("SELECT COUNT(*) FROM notes WHERE local = 1")
    # Put the world back as a kill -9 between publishing and bookkeeping would leave it.
    await ours.state.db.execute(
        "UPDATE ai_replies SET state = 'pending', reply_uri = NULL WHERE mention_uri = ?",
        (mention_uri,),
    )
    await ours.state.db.execute(
        "UPDATE jobs SET state = 'running', locked_until = 0 WHERE dedupe_key = ?",
        (f"reply:{mention_uri}",),
    )
    await ours.drain()
    assert await ours.count("SELECT COUNT(*) FROM notes WHERE local = 1") == notes_before
    assert len(replies(remote, mention_uri)) == 1
    state = await ours.state.db.fetchval(
        "SELECT state FROM ai_replies WHERE mention_uri = ?", (mention_uri,)
    )
    assert state == "done"


async def test_consent_tags_and_bots_get_no_reply(
    world: tuple[LiveServer, RemoteFediverse],
) -> None:
    ours, remote = world
    remote.users["carol"].display_name = "Carol #NoBot"
    remote.users["botty"].actor_type = "Service"
    for username in ("carol", "botty"):
        activity = mention(ours, remote, "hello there", username=username)
        await deliver(ours, remote, activity)
        assert replies(remote, activity["object"]["id"]) == []
        reason = await ours.state.db.fetchval(
            "SELECT reason FROM ai_replies WHERE mention_uri = ?", (activity["object"]["id"],)
        )
        assert reason in ("author opted out (#nobot/#noai/#nollm)", "author is a bot")


async def test_backend_down_gives_one_polite_failure_reply(tmp_path: Path) -> None:
    async with (
        remote_server(("alice",)) as remote,
        live_server(tmp_path / "ours", extra_toml=ai_toml("http://127.0.0.1:9")) as ours,
    ):
        activity = mention(ours, remote, "are you there?")
        await deliver(ours, remote, activity)
        mention_uri = activity["object"]["id"]
        assert replies(remote, mention_uri) == []
        job = await ours.state.db.fetchone(
            "SELECT state, attempts, last_error FROM jobs WHERE dedupe_key = ?",
            (f"reply:{mention_uri}",),
        )
        assert job is not None and job["state"] == "pending" and job["attempts"] == 1
        assert job["last_error"]
        await ours.state.db.execute(
            "UPDATE jobs SET run_after = 0 WHERE dedupe_key = ?", (f"reply:{mention_uri}",)
        )
        await ours.drain()
        await ours.drain()
        (reply,) = replies(remote, mention_uri)
        assert "couldn't answer" in reply["content"]
        assert "AI-generated" not in reply["content"]


async def test_thread_cap_and_rate_limit(tmp_path: Path, llama_server: RunningServer) -> None:
    toml = ai_toml(
        llama_server.base_url,
        extra="max_replies_per_thread = 1",
        # The remote actor gives no `published`: unknown age counts as new, so the stricter
        # rate applies.
        limits="per_account_per_hour = 10\nnew_account_per_hour = 2",
    )
    async with (
        remote_server(("alice",)) as remote,
        live_server(tmp_path / "ours", extra_toml=toml) as ours,
    ):
        first = mention(ours, remote, "first")
        await deliver(ours, remote, first)
        (reply,) = replies(remote, first["object"]["id"])
        # A follow-up in the same thread: the cap of one AI reply per thread holds.
        follow_up = mention(
            ours, remote, "and again", inReplyTo=reply["id"], context=reply.get("context")
        )
        await deliver(ours, remote, follow_up)
        assert replies(remote, follow_up["object"]["id"]) == []
        # A new thread is answered (2nd token), a third is over the hourly limit.
        second = mention(ours, remote, "new topic")
        await deliver(ours, remote, second)
        assert len(replies(remote, second["object"]["id"])) == 1
        third = mention(ours, remote, "one more")
        await deliver(ours, remote, third)
        assert replies(remote, third["object"]["id"]) == []
        reason = await ours.state.db.fetchval(
            "SELECT reason FROM ai_replies WHERE mention_uri = ?", (third["object"]["id"],)
        )
        assert reason == "rate limit for this account"


async def test_moderation_refuses_politely_and_offline_defaults_answer(tmp_path: Path) -> None:
    """Default backends (offline SmolLM2, procedural images) with moderation on."""
    toml = """
[ai.limits]
attempts = 2

[ai.moderation]
enabled = true
"""
    async with (
        remote_server(("alice",)) as remote,
        live_server(tmp_path / "ours", extra_toml=toml) as ours,
    ):
        rude = mention(ours, remote, "you are a fucking idiot, tell me why")
        await deliver(ours, remote, rude)
        (refusal,) = replies(remote, rude["object"]["id"])
        assert "can't help with that" in refusal["content"]
        polite = mention(ours, remote, "what is the capital of France?")
        await deliver(ours, remote, polite)
        chain = replies(remote, polite["object"]["id"])
        assert len(chain) == 1
        # A long answer is a chain of self-replies; the footer closes the last one.
        while more := replies(remote, chain[-1]["id"]):
            chain += more
        assert "AI-generated (offline: SmolLM2-135M-Instruct" in chain[-1]["content"]
        assert "tiny offline model" in chain[-1]["content"]
        assert all(post["aiGenerated"] is True for post in chain)
