"""Incoming custom emoji (issue 13 item 7): drawn from our media cache, never hotlinked.

Given a peer whose actor declares emoji in its name and bio, and a note declaring a PNG, an
animated GIF, an SVG (declared as one, and one sent as PNG), an oversized PNG and a hostile
shortcode, when the Create arrives through the inbox and the worker drains, then the usable
pictures are cached as small still PNGs and the pages draw them in the content, the content
warning and the author's name (only the shortcodes the object declared, only from
``/cache/``), the refused ones stay text, and the client API lists the same emoji.
"""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse

from fediverse_ai import media_cache
from fediverse_ai.federation.publish import publish_note
from fediverse_ai.models import Draft
from fediverse_ai.storage import remote_files

from .remote_shapes import card_of, foreign_fetches, parse_page


def png(size: tuple[int, int], color: tuple[int, int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, color).save(out, "PNG")
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (48, 48), c) for c in ((250, 0, 0), (0, 0, 250))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9"/></svg>'


def emoji(remote: RemoteFediverse, name: str, path: str, media_type: str) -> dict[str, object]:
    return {
        "type": "Emoji",
        "id": f"{remote.base_url}/emojis/{name}",
        "name": f":{name}:",
        "updated": "2025-06-01T00:00:00Z",
        "icon": {"type": "Image", "mediaType": media_type, "url": f"{remote.base_url}{path}"},
    }


async def test_remote_emoji_are_cached_checked_and_drawn_from_our_host(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    remote.files |= {
        "/e/blobcat.png": ("image/png", png((128, 128), (200, 120, 0, 180))),
        "/e/party.gif": ("image/gif", animated_gif()),
        "/e/evil.svg": ("image/svg+xml", SVG),
        "/e/sneaky.png": ("image/png", SVG),
        "/e/huge.png": ("image/png", png((4, 4), (0, 0, 0, 255)) + b"\0" * 300_000),
    }
    tags = [
        emoji(remote, "blobcat", "/e/blobcat.png", "image/png"),
        emoji(remote, "party", "/e/party.gif", "image/gif"),
        emoji(remote, "evil", "/e/evil.svg", "image/svg+xml"),
        emoji(remote, "sneaky", "/e/sneaky.png", "image/png"),
        emoji(remote, "huge", "/e/huge.png", "image/png"),
        emoji(remote, "unused", "/e/blobcat.png", "image/png"),  # declared, not written
        {**emoji(remote, "x", "/e/blobcat.png", "image/png"), "name": ':x" onerror="alert(1):'},
    ]
    alice = remote.users["alice"]
    alice.display_name = "Alice :blobcat:"
    alice.actor_extra["tag"] = [tags[0]]
    note = remote.note(
        "alice",
        '<p>hi :blobcat: :party: :evil: :sneaky: :huge: :undeclared: <a href="https://x.example/'
        ':blobcat:">:party:</a></p>',
        summary="party :party: time",
        tag=tags,
    )
    create = remote.activity("alice", "Create", note, to=[PUBLIC])
    assert (await remote.send(live.shared_inbox, create)).status_code == 202
    await live.drain()

    base = remote.base_url
    names = [p.removeprefix("/e/") for p in remote.files]
    rows = {p: await remote_files.get(live.state.db, f"{base}/e/{p}") for p in names}
    states = {name: (row.state, row.kind) if row else None for name, row in rows.items()}
    assert states == {
        "blobcat.png": ("done", "emoji"),
        "party.gif": ("done", "emoji"),
        "evil.svg": None,  # declared SVG: never even fetched
        "sneaky.png": ("failed", "emoji"),
        "huge.png": ("failed", "emoji"),
    }
    assert "/e/evil.svg" not in remote.fetched
    blobcat, party = rows["blobcat.png"], rows["party.gif"]
    assert blobcat and party and blobcat.media_type == party.media_type == "image/png"

    note_id = await live.count("SELECT id FROM notes WHERE uri = ?", [note["id"]])
    profile = f"/@alice@{remote.authority}"
    async with httpx.AsyncClient(base_url=live.base_url, headers={"Accept": "text/html"}) as web:
        page = (await web.get(f"/notes/{note_id}")).text
        assert foreign_fetches(page, live.base_url) == []
        card = card_of(page, note_id)
        drawn = [(i.attrs["alt"], i.attrs["src"]) for i in card.iter("img", "emoji")]
        cat, gif = f"/cache/{blobcat.file_name}", f"/cache/{party.file_name}"
        # The name, the warning, then the content (the link's text too, not its href).
        assert drawn == [
            (":blobcat:", cat),
            (":party:", gif),
            (":blobcat:", cat),
            (":party:", gif),
            (":party:", gif),
        ]
        content = card.iter("div", "content")[0]
        for text in (":evil:", ":sneaky:", ":huge:", ":undeclared:"):
            assert text in content.text()
        assert content.iter("a")[0].attrs["href"] == "https://x.example/:blobcat:"
        assert "onerror" not in page
        served = await web.get(cat)
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        still = Image.open(io.BytesIO(served.content))
        assert still.format == "PNG" and still.size == (128, 128)
        assert getattr(Image.open(io.BytesIO((await web.get(gif)).content)), "n_frames", 1) == 1

        profile_page = parse_page((await web.get(profile)).text)
        for where in (profile_page.iter("h1")[0], profile_page.iter("div", "bio")[0]):
            assert [i.attrs["src"] for i in where.iter("img", "emoji")] == [cat]

        status = (await web.get(f"/api/v1/statuses/{note_id}")).json()
    by_code = {e["shortcode"]: e for e in status["emojis"]}
    assert sorted(by_code) == ["blobcat", "party"]
    assert by_code["blobcat"]["url"] == f"{live.base_url}{cat}"
    assert by_code["party"]["static_url"] == f"{live.base_url}{gif}"
    assert [e["shortcode"] for e in status["account"]["emojis"]] == ["blobcat"]


async def test_emoji_stay_text_until_cached(live: LiveServer, remote: RemoteFediverse) -> None:
    remote.files["/e/slow.png"] = ("image/png", png((32, 32), (0, 200, 0, 255)))
    remote.statuses["/e/slow.png"] = 503
    # An icon naming one of our own paths is never drawn (it would be an <img> of that path).
    ours = {**emoji(remote, "ours", "/x", "image/png"), "icon": {"type": "Image",
            "url": f"{live.base_url}/media/emoji/../../logout"}}  # fmt: skip
    note = remote.note(
        "alice",
        "<p>wait :slow: :ours:</p>",
        tag=[emoji(remote, "slow", "/e/slow.png", "image/png"), ours],
    )
    assert (
        await remote.send(live.shared_inbox, remote.activity("alice", "Create", note))
    ).status_code == 202
    await live.drain()
    note_id = await live.count("SELECT id FROM notes WHERE uri = ?", [note["id"]])
    async with httpx.AsyncClient(base_url=live.base_url, headers={"Accept": "text/html"}) as web:
        card = card_of((await web.get(f"/notes/{note_id}")).text, note_id)
        assert not card.iter("img", "emoji") and ":slow:" in card.text()

        remote.statuses.clear()
        await live.state.db.execute("UPDATE jobs SET run_after = 0 WHERE kind = 'cache_media'")
        await live.drain()
        card = card_of((await web.get(f"/notes/{note_id}")).text, note_id)
        [img] = card.iter("img", "emoji")
        assert (img.attrs["src"] or "").startswith("/cache/") and img.attrs["alt"] == ":slow:"
        assert ":ours:" in card.text()

    # A prune of old remote media keeps emoji: only a new post would fetch them again.
    live.state.clock = lambda: 1e10
    await media_cache.prune(live.state, days=1)
    kept = await remote_files.get(live.state.db, f"{remote.base_url}/e/slow.png")
    assert kept is not None and kept.state == "done"
    assert live.state.media.exists(media_cache.cache_key(str(kept.file_name)))


async def test_a_custom_emoji_reaction_keeps_its_picture_cached(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    remote.files["/e/heart.png"] = ("image/png", png((64, 64), (250, 0, 80, 255)))
    bob = await live.account("bob")
    note = await publish_note(live.state, bob, Draft(text="react to me", visibility="public"))
    heart = emoji(remote, "heart", "/e/heart.png", "image/png")
    react = remote.activity("alice", "EmojiReact", note.uri, content=":heart:", tag=[heart])
    assert (await remote.send(live.shared_inbox, react)).status_code == 202
    await live.drain()
    row = await live.state.db.fetchone("SELECT kind, emoji, emoji_url FROM reactions")
    assert row is not None
    assert tuple(row) == ("emoji", ":heart:", f"{remote.base_url}/e/heart.png")
    cached = await remote_files.get(live.state.db, f"{remote.base_url}/e/heart.png")
    assert cached is not None and (cached.state, cached.kind) == ("done", "emoji")
    # Misskey's form: a Like naming the reaction, from a second person, and a plain unicode one.
    like = remote.activity("bob", "Like", note.uri, tag=[heart])
    like["_misskey_reaction"] = ":heart:"
    assert (await remote.send(live.shared_inbox, like)).status_code == 202
    star = remote.activity("bob", "EmojiReact", note.uri, content="\u2b50")
    assert (await remote.send(live.shared_inbox, star)).status_code == 202
    await live.drain()
    async with httpx.AsyncClient(base_url=live.base_url, headers={"Accept": "text/html"}) as web:
        page = (await web.get(note.url.removeprefix(live.base_url) if note.url else "")).text
    [shown] = card_of(page, note.id).iter("p", "reactions")
    heart_view, star_view = shown.iter("span", "reaction")
    [img] = heart_view.iter("img", "emoji")
    assert img.attrs["alt"] == ":heart:" and img.attrs["src"] == f"/cache/{cached.file_name}"
    assert heart_view.text() == "2" and star_view.text() == "\u2b50 1"


@pytest.mark.parametrize("live", ["local", "s3"], indirect=True)
async def test_an_emoji_its_server_updated_is_fetched_again(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    url = f"{remote.base_url}/e/cat.png"
    db = live.state.db

    async def post(updated: str) -> None:
        tag = {**emoji(remote, "cat", "/e/cat.png", "image/png"), "updated": updated}
        note = remote.note("alice", "<p>:cat:</p>", tag=[tag])
        create = remote.activity("alice", "Create", note)
        assert (await remote.send(live.shared_inbox, create)).status_code == 202
        await live.drain()

    def colour(row: remote_files.RemoteFile | None) -> tuple[int, ...]:
        assert row is not None and row.state == "done"
        data = live.state.media.get(media_cache.cache_key(str(row.file_name)))
        assert data is not None
        picture = Image.open(io.BytesIO(data))
        return tuple(picture.convert("RGBA").getpixel((0, 0)))  # type: ignore[arg-type]

    remote.files["/e/cat.png"] = ("image/png", png((16, 16), (250, 0, 0, 255)))
    await post("2025-01-01T00:00:00Z")
    first = await remote_files.get(db, url)
    assert colour(first) == (250, 0, 0, 255)

    remote.files["/e/cat.png"] = ("image/png", png((16, 16), (0, 0, 250, 255)))
    await post("2025-01-01T00:00:00Z")  # not changed since we fetched it: not fetched
    assert colour(await remote_files.get(db, url)) == (250, 0, 0, 255)

    await db.execute("UPDATE remote_files SET fetched_at = 1000 WHERE url = ?", (url,))
    await post("2025-06-01T00:00:00Z")  # changed after our copy: fetched again, old file gone
    second = await remote_files.get(db, url)
    assert colour(second) == (0, 0, 250, 255)
    assert first is not None and second is not None and second.file_name != first.file_name
    assert not live.state.media.exists(media_cache.cache_key(str(first.file_name)))

    remote.statuses["/e/cat.png"] = 404
    await db.execute("UPDATE remote_files SET fetched_at = 1000 WHERE url = ?", (url,))
    await post("2025-07-01T00:00:00Z")  # a refresh that fails keeps the copy we have
    kept = await remote_files.get(db, url)
    assert kept is not None and (kept.state, kept.file_name) == ("done", second.file_name)
    assert remote.fetched.count("/e/cat.png") == 3
