"""Issue 13 item 5: the AI actor mentioned in a quote ("@ai is this true?") reads the quoted post.

Our server and the peer are real HTTP servers on loopback; the model is the scripted stand-in
(``scripted.py``), which records the prompt: what is tested is what reaches the model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server

from .scripted import ScriptedChat
from .test_ai_addressing import scripted_toml
from .test_bot import deliver, mention, replies

CLAIM = "The Eiffel Tower grows fifteen centimetres taller every summer."


@asynccontextmanager
async def world(
    tmp_path: Path, chat: ScriptedChat, bob_summary: str = "<p>Bob writes.</p>"
) -> AsyncIterator[tuple[LiveServer, RemoteFediverse]]:
    async with (
        remote_server(("alice", "bob")) as remote,
        live_server(tmp_path / "ours", extra_toml=scripted_toml(chat)) as ours,
    ):
        remote.users["bob"].actor_extra["summary"] = bob_summary
        yield ours, remote


async def test_a_quote_asking_the_ai_puts_the_quoted_text_in_its_prompt(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given bob's post on the peer, when alice quotes it with "@ai is this true?", then the
    model reads bob's text as untrusted context (fetched by its id), and the answer goes out."""
    chat.answers = ["Yes: thermal expansion."]
    async with world(tmp_path, chat) as (ours, remote):
        quoted = remote.note("bob", f"<p>{CLAIM}</p>", to=[PUBLIC])
        activity = mention(ours, remote, "is this true?", quote=quoted["id"])
        await deliver(ours, remote, activity)
        (reply,) = replies(remote, activity["object"]["id"])

    prompt = "\n".join(m["content"] for m in chat.prompt())
    assert CLAIM in prompt and "in the post quoted by the question" in prompt
    assert "thermal expansion" in reply["content"]


async def test_a_quoted_post_by_a_noai_author_stays_out_of_the_prompt(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    chat.answers = ["I cannot say."]
    async with world(tmp_path, chat, "<p>Please leave me out of it #NoAI</p>") as (ours, remote):
        quoted = remote.note("bob", f"<p>{CLAIM}</p>", to=[PUBLIC])
        activity = mention(ours, remote, "is this true?", quote=quoted["id"])
        await deliver(ours, remote, activity)
        assert len(replies(remote, activity["object"]["id"])) == 1

    assert CLAIM not in "\n".join(m["content"] for m in chat.prompt())
