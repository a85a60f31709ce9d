"""Interop: a real peer's sensitive picture and video, as we show them (issue 19, issue 13 item 8).

Given our user bob following the peer's alice, when alice posts a picture and a video marked
sensitive (built with Fedify's vocabulary, or as bovine's outbox takes them), then the note is
stored sensitive with both attachments, the media cache fetches both files from the peer, and
our page of the note covers them (``details``), plays the video with controls and
``preload="none"``, and makes the browser fetch nothing from the peer.
"""

from __future__ import annotations

import pytest
from e2e.test_federation_e2e import db_row, db_rows, note_on
from web.remote_shapes import card_of, foreign_fetches

from .conftest import Interop, Peer
from .test_peers import bob_follows_peer, wait_for

pytestmark = pytest.mark.e2e


def test_a_peers_sensitive_picture_and_video_are_cached_and_covered(
    interop: Interop, peer: Peer
) -> None:
    bob_follows_peer(interop, peer)
    base = "https://" + peer.actor_url().split("/")[2]  # bovine's actors are not under /users/
    attachments = [
        {"type": "Image", "mediaType": "image/png", "url": "/_media/knee.png", "name": "a knee"},
        {"type": "Video", "mediaType": "video/mp4", "url": "/_media/fall.mp4", "name": "the fall"},
    ]  # fmt: skip
    note_id = peer.control(
        "post",
        content="how it happened",
        visibility="public",
        sensitive=True,
        attachments=attachments,
    )["id"]
    urls = [f"{base}{a['url']}" for a in attachments]
    stored = wait_for(
        interop, peer, lambda: note_on(interop.ours, note_id), "the post never arrived"
    )
    assert stored["sensitive"] == 1
    marks = ", ".join("?" for _ in urls)
    wait_for(
        interop,
        peer,
        lambda: (
            len(
                db_rows(
                    interop.ours,
                    f"SELECT url FROM remote_files WHERE state = 'done' AND url IN ({marks})",
                    urls,
                )
            )
            == 2
        ),
        "the media cache never fetched the peer's picture and video",
        timeout=60,
    )
    kinds = db_rows(
        interop.ours,
        "SELECT m.media_type FROM media m JOIN notes n ON n.id = m.note_id WHERE n.uri = ?"
        " ORDER BY m.position",
        (note_id,),
    )
    assert [k["media_type"] for k in kinds] == ["image/png", "video/mp4"]

    row = db_row(interop.ours, "SELECT id FROM notes WHERE uri = ?", (note_id,))
    assert row is not None
    with interop.ours.client() as http:
        page = http.get(f"/notes/{row['id']}", headers={"Accept": "text/html"}).text
    assert foreign_fetches(page, interop.ours.base_url) == []
    card = card_of(page, row["id"])
    (picture,) = card.iter("img", "full")
    (video,) = card.iter("video")
    for element in (picture, video):
        assert element.inside("details", "sensitive")
    assert (picture.attrs["src"] or "").startswith("/cache/")
    assert "controls" in video.attrs and video.attrs.get("preload") == "none"
    assert "autoplay" not in video.attrs
    (source,) = video.iter("source")
    assert (source.attrs["src"] or "").startswith("/cache/")
