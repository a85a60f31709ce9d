"""Pages never hotlink a remote server (issue 13 item 8, the view side).

Given a remote note with pictures (one with a blurhash, one without), a video and a sound,
by an actor with an avatar and a header, mentioning a local user, when the pages that show
it are read before the media cache has the files (the peer answers 503 at first) and after,
then no ``src``/``poster``/``srcset`` on any of them names another host: before, the
placeholders (the blurhash, else a neutral picture) and links to the originals; after, our
cached copies, the thumbnail in feeds and the full file on the post's own page.
"""

from __future__ import annotations

from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse

from fediverse_ai.web.media_views import AVATAR_PLACEHOLDER, MEDIA_PLACEHOLDER, placeholder_url

from .remote_shapes import MP3, MP4, card_of, foreign_fetches, parse_page, picture
from .support import Browserish, make_user

BLURHASH = "LEHV6nWB2yk8pyo0adR*.7kCMdnj"


def media_files(remote: RemoteFediverse) -> dict[str, str]:
    files = {
        "/m/wide.jpg": ("image/jpeg", picture((2000, 1000), (200, 40, 90))),
        "/m/plain.png": ("image/png", picture((300, 200), (20, 140, 60), "PNG")),
        "/m/clip.mp4": ("video/mp4", MP4),
        "/m/song.mp3": ("audio/mpeg", MP3),
        "/m/avatar.png": ("image/png", picture((300, 300), (90, 90, 200), "PNG")),
        "/m/header.jpg": ("image/jpeg", picture((1500, 500), (240, 200, 40))),
    }
    remote.files |= files
    return {path.rsplit("/", 1)[1]: f"{remote.base_url}{path}" for path in files}


def document(media_type: str, url: str) -> dict[str, object]:
    return {"type": "Document", "mediaType": media_type, "url": url, "name": url[-8:]}


async def test_no_page_loads_anything_from_another_host_before_or_after_caching(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    urls = media_files(remote)
    for path in remote.files:
        remote.statuses[path] = 503  # not cached at first: the fetch will be retried
    alice = remote.users["alice"]
    alice.actor_extra["icon"] = {"type": "Image", "url": urls["avatar.png"]}
    alice.actor_extra["image"] = {"type": "Image", "url": urls["header.jpg"]}
    await make_user(live, "carol")
    carol = f"{live.base_url}/users/carol"
    note = remote.note(
        "alice",
        f'<p><a href="{carol}" class="u-url mention">@carol</a> look #hotlink</p>',
        cc=[carol],
        tag=[
            {"type": "Mention", "href": carol, "name": "@carol"},
            {"type": "Hashtag", "name": "#hotlink"},
        ],
        attachment=[
            {**document("image/jpeg", urls["wide.jpg"]), "blurhash": BLURHASH, "width": 2000},
            document("image/png", urls["plain.png"]),
            document("video/mp4", urls["clip.mp4"]),
            document("audio/mpeg", urls["song.mp3"]),
        ],
    )
    response = await remote.send(
        live.shared_inbox, remote.activity("alice", "Create", note, to=[PUBLIC])
    )
    assert response.status_code == 202
    await live.drain()
    note_id = await live.count("SELECT id FROM notes WHERE uri = ?", [note["id"]])
    assert note_id
    profile = f"/@alice@{remote.authority}"
    pages = [
        "/home",
        "/tags/hotlink",
        f"/notes/{note_id}",
        profile,
        f"{profile}/media",
        "/notifications",
    ]

    async with Browserish(live.base_url) as web:
        assert (await web.login("carol")).status_code in (302, 303)

        async def read_all() -> dict[str, str]:
            read = {}
            for page in pages:
                response = await web.get(page)
                assert response.status_code == 200, page
                assert foreign_fetches(response.text, live.base_url) == [], page
                read[page] = response.text
            return read

        before = await read_all()
        for page in pages:
            card = card_of(before[page], note_id)
            pending = [img.attrs["src"] for img in card.iter("img", "pending")]
            assert pending == [placeholder_url(BLURHASH), *[MEDIA_PLACEHOLDER] * 3], page
            links = [a.attrs["href"] for a in card.iter("a", "original")]
            assert links == [urls[n] for n in ("wide.jpg", "plain.png", "clip.mp4", "song.mp3")]
            assert card.iter("img", "avatar")[0].attrs["src"] == AVATAR_PLACEHOLDER
        assert not parse_page(before[profile]).iter("img", "header")

        remote.statuses.clear()
        await live.state.db.execute("UPDATE jobs SET run_after = 0 WHERE kind = 'cache_media'")
        await live.drain()
        assert await live.count("SELECT COUNT(*) FROM remote_files WHERE state = 'done'") == 6

        after = await read_all()
        for page in pages:
            card = card_of(after[page], note_id)
            assert not card.iter("img", "pending") and not card.iter("a", "original"), page
            wide = card.iter("img", "full")[0].attrs["src"] or ""
            on_own_page = page == f"/notes/{note_id}"
            assert wide.startswith("/cache/") and wide.endswith("_t.jpg") != on_own_page, page
            for player in ("video", "audio"):
                source = card.iter(player)[0].iter("source")[0]
                assert (source.attrs["src"] or "").startswith("/cache/"), page
            assert (card.iter("img", "avatar")[0].attrs["src"] or "").startswith("/cache/")
        (header,) = parse_page(after[profile]).iter("img", "header")
        srcs = {n.attrs.get("src") for p in after.values() for n in parse_page(p).iter()}
        assert (header.attrs["src"] or "").startswith("/cache/")
        for src in sorted(s for s in srcs if s and s.startswith("/cache/")):
            served = await web.get(src)
            assert served.status_code == 200 and served.content, src
