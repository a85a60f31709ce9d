"""Issue 19 item 3: an article that mentions the AI is asked with its title."""

from __future__ import annotations

from pathlib import Path

from support.live import live_server
from support.remote import remote_server

from .scripted import ScriptedChat
from .test_ai_addressing import scripted_toml
from .test_bot import deliver, mention, replies


async def test_an_article_mentioning_the_ai_is_asked_with_its_title(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given a WordPress-style Article whose title carries the question and whose body only
    mentions the AI, when the AI answers, then the title is in the request it was given."""
    async with (
        remote_server(("alice",)) as remote,
        live_server(tmp_path / "ours", extra_toml=scripted_toml(chat)) as ours,
    ):
        activity = mention(
            ours, remote, "what do you think?", type="Article", name="Is the river rising?"
        )
        await deliver(ours, remote, activity)
        assert len(replies(remote, activity["object"]["id"])) == 1

    request = chat.prompt()[-1]["content"]
    assert "Is the river rising?" in request and "what do you think?" in request
    assert request.index("Is the river rising?") < request.index("what do you think?")
