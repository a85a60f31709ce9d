"""Consent in the AI's thread context: what someone else's question lets the AI read.

Given posts by a remote author who says ``indexable: false``, one with #noai in their bio and a
local user who switched "keep my posts out of AI processing" on, when someone else mentions the
AI in reply to them, then the model is never shown those posts, their pictures or the pages
they link; when their own authors ask, it is (asking is consent), and the same holds for a post
the question quotes.

Real HTTP on loopback (our server, the remote stand-in, a scripted OpenAI-compatible model),
real SQLite, the real worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server
from web.support import Browserish, make_user

from fediverse_ai.federation import publish
from fediverse_ai.models import Draft

from .pages import PageServer, article
from .scripted import ScriptedChat
from .test_ai_addressing import scripted_toml
from .test_ai_edits import photo_post
from .test_ai_vision import seeing
from .test_bot import deliver, mention, replies


@asynccontextmanager
async def world(
    tmp_path: Path, chat: ScriptedChat
) -> AsyncIterator[tuple[LiveServer, RemoteFediverse]]:
    async with (
        remote_server(("alice", "carol", "dave")) as remote,
        live_server(tmp_path / "ours", extra_toml=scripted_toml(chat)) as ours,
    ):
        remote.users["carol"].actor_extra["indexable"] = False
        remote.users["dave"].actor_extra["summary"] = "<p>Painter. #NoAI</p>"
        yield ours, remote


async def remote_post(ours: LiveServer, remote: RemoteFediverse, username: str, text: str) -> str:
    note = remote.note(username, f"<p>{text}</p>", to=(PUBLIC,), cc=(remote.followers(username),))
    await deliver(ours, remote, remote.activity(username, "Create", note, to=[PUBLIC]))
    return str(note["id"])


def prompt_text(chat: ScriptedChat) -> str:
    return " ".join(m["content"] for m in chat.prompt())


async def test_opted_out_authors_stay_out_of_someone_elses_context(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    chat.answers = ["An answer."] * 6
    async with world(tmp_path, chat) as (ours, remote):
        carol = await remote_post(ours, remote, "carol", "CAROL-NOT-INDEXABLE")
        dave = await remote_post(ours, remote, "dave", "DAVE-SAYS-NOAI")
        shown = await remote_post(ours, remote, "alice", "ALICE-IS-FINE")
        for parent, hidden in ((carol, "CAROL-NOT-INDEXABLE"), (dave, "DAVE-SAYS-NOAI")):
            ask = mention(ours, remote, f"what about {hidden[:4]}?", inReplyTo=parent)
            await deliver(ours, remote, ask)
            assert len(replies(remote, ask["object"]["id"])) == 1
            assert hidden not in prompt_text(chat)
        ask = mention(ours, remote, "and this?", username="carol", inReplyTo=shown)
        await deliver(ours, remote, ask)
        assert "ALICE-IS-FINE" in prompt_text(chat)  # a consenting author's post is read

        # Carol asks about her own post: she consents by asking.
        own = mention(ours, remote, "explain mine", username="carol", inReplyTo=carol)
        await deliver(ours, remote, own)
        assert "CAROL-NOT-INDEXABLE" in prompt_text(chat)

        # A quoted post follows the same rule.
        quoting = mention(ours, remote, "is this true?", quote=carol)
        await deliver(ours, remote, quoting)
        assert "CAROL-NOT-INDEXABLE" not in prompt_text(chat)


async def test_a_local_users_switch_keeps_their_posts_out_of_the_context(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    chat.answers = ["An answer."] * 4
    async with world(tmp_path, chat) as (ours, remote):
        await make_user(ours, "lena")
        lena = await ours.account("lena")
        post = await publish.publish_note(ours.state, lena, Draft(text="LENA-PRIVATE-THOUGHTS"))
        async with Browserish(ours.base_url) as browser:
            await browser.login("lena")
            off = await browser.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "off"})
            assert off.status_code == 303
        ask = mention(ours, remote, "what does she mean?", inReplyTo=post.uri)
        await deliver(ours, remote, ask)
        assert len(replies(remote, ask["object"]["id"])) == 1
        assert "LENA-PRIVATE-THOUGHTS" not in prompt_text(chat)

        async with Browserish(ours.base_url) as browser:
            await browser.login("lena")
            await browser.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "on"})
        again = mention(ours, remote, "and now?", inReplyTo=post.uri)
        await deliver(ours, remote, again)
        assert "LENA-PRIVATE-THOUGHTS" in prompt_text(chat)


async def test_a_picture_by_an_author_who_refuses_is_not_shown_to_the_model(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given bob's photo, bob not ``indexable``, and a model that sees, when alice asks what it
    shows, then no picture is sent; when bob asks about his own photo, it is."""
    chat.answers = ["I can't see a picture here.", "A red and blue wall."]
    async with (
        remote_server(("alice", "bob")) as remote,
        live_server(tmp_path / "ours", extra_toml=seeing(chat)) as ours,
    ):
        remote.users["bob"].actor_extra["indexable"] = False
        post = await photo_post(ours, remote, "bob")
        ask = mention(ours, remote, "what is this?", inReplyTo=post["id"])
        await deliver(ours, remote, ask)
        assert len(replies(remote, ask["object"]["id"])) == 1
        assert isinstance(chat.prompt()[-1]["content"], str)  # text only: no image parts
        own = mention(ours, remote, "what is this?", username="bob", inReplyTo=post["id"])
        await deliver(ours, remote, own)
        content = chat.prompt()[-1]["content"]
        assert isinstance(content, list) and content[1]["type"] == "image_url"


async def test_a_link_in_a_post_by_an_author_who_refuses_is_not_read(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given carol's post (not ``indexable``) linking an article, when alice asks the AI what it
    says, then the link is not fetched; when carol asks, it is read."""
    with PageServer().running() as pages:
        pages.html("/birds", article("The black redstart sings at dawn."))
        chat.answers = ["No link to read.", "It is about a bird."]
        async with world(tmp_path, chat) as (ours, remote):
            post = await remote_post(ours, remote, "carol", f"Look: {pages.base_url}/birds")
            ask = mention(ours, remote, "what does this say?", inReplyTo=post)
            await deliver(ours, remote, ask)
            assert len(replies(remote, ask["object"]["id"])) == 1
            assert pages.paths() == []
            own = mention(ours, remote, "what does it say?", username="carol", inReplyTo=post)
            await deliver(ours, remote, own)
            assert pages.paths() == ["/birds"]
