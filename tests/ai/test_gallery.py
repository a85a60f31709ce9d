"""Issue 12 item 6: what the AI draws for public requests is in the gallery, with consent.

The AI's answers are unlisted by default, so they stay off timelines; the gallery still shows
their pictures when the request was public and its author allows indexing, and links the
request. Real servers on loopback; the image comes from the scripted OpenAI-compatible
backend (a real PNG).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from support.live import live_server
from support.remote import PUBLIC, remote_server

from .scripted import ScriptedChat
from .test_ai_addressing import scripted_toml
from .test_bot import deliver, mention, replies


async def test_pictures_for_public_requests_of_indexable_authors_are_in_the_gallery(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given three requests for a picture (a public one by an author who allows indexing, a
    public one by an author who does not, and a followers-only one by the first author), when
    the AI has drawn all three, then the gallery shows the first alone, linked to its request,
    and the AI's answers stay unlisted."""
    async with (
        remote_server(("alice", "bob")) as remote,
        live_server(tmp_path / "ours", extra_toml=scripted_toml(chat)) as ours,
    ):
        remote.users["alice"].actor_extra["indexable"] = True
        remote.users["bob"].actor_extra["indexable"] = False
        shown = mention(ours, remote, "draw a lighthouse")
        hidden = mention(ours, remote, "draw a harbour", username="bob")
        private = mention(
            ours,
            remote,
            "draw a secret garden",
            to=(remote.followers("alice"),),
            cc=(ours.ai.actor.uri,),
        )
        for activity in (shown, hidden, private):
            await deliver(ours, remote, activity)
            (reply,) = replies(remote, activity["object"]["id"])
            assert PUBLIC not in reply["to"] and reply["attachment"]
        async with httpx.AsyncClient(base_url=ours.base_url) as web:
            page = (await web.get("/gallery")).text
            feed = (await web.get("/")).text

        tiles = re.findall(r"<li>.*?</li>", page, flags=re.S)
        assert len(tiles) == 1, page
        assert "lighthouse" in tiles[0]
        request = await ours.state.db.fetchval(
            "SELECT id FROM notes WHERE uri = ?", (shown["object"]["id"],)
        )
        assert f'class="asked" href="/notes/{request}"' in tiles[0]
        assert "harbour" not in page and "secret garden" not in page
        assert "lighthouse" not in feed  # unlisted: off the local timeline
