"""What other servers send, shown as their authors meant it (issue 19).

Given objects in the shapes Mastodon, Pleroma, Misskey, PeerTube, Funkwhale, WordPress and
WriteFreely send (``tests/fixtures/remote``), delivered signed by the stand-in peer to a live
instance whose worker then caches their media, when their pages are read, then: sensitive
media sits behind a cover (the note's flag and one attachment's alike), video and sound play
with controls from our cache and never autoplay or preload, an article has its title as a
heading and its excerpt as a lead (not a content warning), HTML structure is kept, and no
page makes the browser fetch anything from the peer.
"""

from __future__ import annotations

from typing import Any

from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse

from fediverse_ai.bot.context import ancestors
from fediverse_ai.storage import actors, media, notes

from .remote_shapes import (
    SHAPES,
    Node,
    card_of,
    foreign_fetches,
    load,
    serve_media,
)
from .support import Browserish


async def deliver(live: LiveServer, remote: RemoteFediverse, doc: dict[str, Any]) -> int:
    create = remote.activity("alice", "Create", doc, to=[PUBLIC])
    response = await remote.send(live.shared_inbox, create)
    assert response.status_code == 202, response.text
    await live.drain()
    note_id = await live.count("SELECT id FROM notes WHERE uri = ?", [doc["id"]])
    assert note_id, f"{doc['type']} {doc['id']} was not stored"
    return note_id


async def deliver_all(live: LiveServer, remote: RemoteFediverse) -> dict[tuple[str, str], int]:
    serve_media(remote)
    ids = {}
    for server, name in SHAPES:
        ids[(server, name)] = await deliver(live, remote, load(server, name, remote))
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE state != 'done'") == 0
    return ids


def covered(node: Node) -> bool:
    return node.inside("details", "sensitive")


def assert_player(node: Node, kind: str, media_type: str) -> None:
    assert node.tag == kind
    assert "controls" in node.attrs and node.attrs.get("preload") == "none"
    assert "autoplay" not in node.attrs
    (source,) = node.iter("source")
    assert (source.attrs.get("src") or "").startswith("/cache/")
    assert source.attrs.get("type") == media_type


async def test_every_servers_shape_is_shown_as_its_author_meant(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    ids = await deliver_all(live, remote)
    pages = {}
    async with Browserish(live.base_url) as web:
        for key, note_id in ids.items():
            response = await web.get(f"/notes/{note_id}")
            assert response.status_code == 200
            pages[key] = response.text
            assert foreign_fetches(response.text, live.base_url) == [], key
    cards = {key: card_of(pages[key], note_id) for key, note_id in ids.items()}

    # Mastodon: sensitive without a summary covers the picture (blurhash as the cover).
    card = cards[("mastodon", "sensitive-photo.json")]
    assert not card.iter("details", "cw")
    (full,) = card.iter("img", "full")
    assert covered(full) and (full.attrs["src"] or "").startswith("/cache/")
    (cover,) = card.iter("img", "cover")
    assert (cover.attrs["src"] or "").startswith("/blurhash/")

    # Mastodon: a content warning, and a video and a recording behind it and a cover each.
    card = cards[("mastodon", "video-and-audio.json")]
    (cw,) = card.iter("details", "cw")
    assert cw.iter("summary")[0].text() == "loud noises"
    (video,) = card.iter("video")
    (audio,) = card.iter("audio")
    assert_player(video, "video", "video/mp4")
    assert_player(audio, "audio", "audio/mpeg")
    assert covered(video) and covered(audio)
    assert not card.iter("img", "full")  # never an <img> for video or sound

    # Pleroma: the type given only on the Link inside url is the one stored and shown.
    stored = await media.for_note(live.state.db, ids[("pleroma", "link-typed-image.json")])
    assert [m.media_type for m in stored] == ["image/png"]
    card = cards[("pleroma", "link-typed-image.json")]
    assert not card.iter("details", "sensitive")
    assert not card.iter("details", "cw")  # an empty summary is no warning
    (full,) = card.iter("img", "full")
    assert (full.attrs["src"] or "").startswith("/cache/")

    # Misskey: one attachment flagged sensitive, the other not.
    card = cards[("misskey", "sensitive-file.json")]
    first, second = card.iter("figure")
    assert not first.iter("details", "sensitive") and second.iter("details", "sensitive")
    assert covered(second.iter("img", "full")[0])

    # PeerTube: a Video is a post with its video; Markdown is text; the link is the watch page.
    card = cards[("peertube", "video.json")]
    assert card.iter("h2", "title")[0].text() == "Repairing a bicycle wheel"
    assert "You need a spoke key and *patience*." in card.iter("div", "content")[0].text()
    (video,) = card.iter("video")
    assert_player(video, "video", "video/mp4")
    stored = await media.for_note(live.state.db, ids[("peertube", "video.json")])
    assert [m.url.rsplit("/", 1)[1] for m in stored] == ["3b1e-480.mp4"]  # the one we cache
    (read,) = card.iter("p", "read-original")
    assert read.iter("a")[0].attrs["href"] == f"{remote.base_url}/w/8KXoGqX1xX1"

    # Funkwhale: an Audio is a post with its sound.
    card = cards[("funkwhale", "audio.json")]
    assert card.iter("h2", "title")[0].text() == "Morning Field Recording"
    assert "Birds at dawn" in card.iter("div", "content")[0].text()
    assert_player(card.iter("audio")[0], "audio", "audio/mpeg")

    # WordPress: title, the excerpt as a lead in plain text, structure kept, alt text kept.
    card = cards[("wordpress", "article.json")]
    assert card.iter("h2", "title")[0].text() == "Mornings by the Bay"
    assert not card.iter("details", "cw")
    lead = card.iter("p", "lead")[0].text()
    assert lead == "A short essay about fog, tides and coffee. […]"
    content = card.iter("div", "content")[0]
    paragraphs = [p.text() for p in content.iter("p")]
    assert paragraphs[0] == "Why the bay"
    assert content.iter("p")[0].iter("strong")
    assert "The bay at dawn" in paragraphs  # the inline image's alt text
    assert "Day | High Mon | 06:12 Tue | 07:01" in paragraphs
    assert card.iter("p", "read-original")

    # WriteFreely: a title, no lead, headings and lists.
    card = cards[("writefreely", "article.json")]
    assert card.iter("h2", "title")[0].text() == "Notes on Slow Writing"
    assert not card.iter("p", "lead") and not card.iter("details", "cw")
    content = card.iter("div", "content")[0]
    assert [li.text() for li in content.iter("li")] == ["no feeds", "no counts"]
    assert content.iter("blockquote")


async def test_the_ai_reads_an_articles_title_with_the_thread(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    article = load("writefreely", "article.json", remote)
    await deliver(live, remote, article)
    reply = remote.note("alice", "<p>what do you think?</p>", inReplyTo=article["id"])
    note = await notes.by_id(live.state.db, await deliver(live, remote, reply))
    asker = await actors.by_uri(live.state.db, remote.actor_uri("alice"))
    assert note is not None and asker is not None

    context = await ancestors(
        live.state, note, ai_actor_id=live.ai.actor.id, reply="public", asker=asker
    )

    assert [c.text.split("\n\n")[0] for c in context] == ["Notes on Slow Writing"]


async def test_the_original_link_stays_on_the_objects_host(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    honest = remote.note("alice", "<p>mine</p>", url=f"{remote.base_url}/@alice/1")
    elsewhere = remote.note("alice", "<p>look there</p>", url="https://elsewhere.example/phish")
    async with Browserish(live.base_url) as web:
        for doc, expected in ((honest, honest["url"]), (elsewhere, elsewhere["id"])):
            note_id = await deliver(live, remote, doc)
            card = card_of((await web.get(f"/notes/{note_id}")).text, note_id)
            links = [a.attrs["href"] for a in card.iter("a") if a.text() == "Original"]
            assert links == [expected]


async def test_summary_html_is_shown_as_text(live: LiveServer, remote: RemoteFediverse) -> None:
    doc = remote.note("alice", "<p>body</p>", summary="<b>spoilers</b> &amp; <i>more</i>")
    note_id = await deliver(live, remote, doc)
    stored = await notes.by_id(live.state.db, note_id)
    assert stored is not None and stored.summary == "spoilers & more" and stored.sensitive
