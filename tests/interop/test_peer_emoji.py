"""Interop: a real Fedify server's custom emoji (issue 13 item 7).

Given our user bob following the peer's alice, when alice posts a note whose ``Emoji`` tag
Fedify's vocabulary built (``:fedi:``, a PNG on the peer), then the media cache fetches the
picture from the peer as an emoji, our page of the note draws it from ``/cache/`` in place of
the text, and the browser is sent to the peer for nothing.

bovine-herd's control API builds no emoji tags, so this runs against the Fedify peer only.
"""

from __future__ import annotations

import pytest
from e2e.test_federation_e2e import db_row, note_on
from web.remote_shapes import card_of, foreign_fetches

from .conftest import Interop, Peer
from .test_peers import bob_follows_peer, wait_for

pytestmark = pytest.mark.e2e


def test_a_fedify_emoji_tag_is_cached_and_drawn(interop: Interop, peer: Peer) -> None:
    if peer.name != "fedify":
        pytest.skip(f"{peer.name}'s control API builds no Emoji tags")
    bob_follows_peer(interop, peer)
    base = "https://" + peer.actor_url().split("/")[2]
    note_id = peer.control(
        "post",
        content="<p>hello :fedi: from Fedify</p>",
        visibility="public",
        emojis=[{"name": "fedi", "url": "/_media/fedi.png"}],
    )["id"]
    wait_for(interop, peer, lambda: note_on(interop.ours, note_id), "the post never arrived")
    icon = f"{base}/_media/fedi.png"
    cached = wait_for(
        interop,
        peer,
        lambda: db_row(
            interop.ours,
            "SELECT file_name FROM remote_files"
            " WHERE url = ? AND state = 'done' AND kind = 'emoji'",
            (icon,),
        ),
        "the media cache never fetched the peer's emoji",
        timeout=60,
    )
    row = db_row(interop.ours, "SELECT id FROM notes WHERE uri = ?", (note_id,))
    assert row is not None
    with interop.ours.client() as http:
        page = http.get(f"/notes/{row['id']}", headers={"Accept": "text/html"}).text
    assert foreign_fetches(page, interop.ours.base_url) == []
    card = card_of(page, row["id"])
    [img] = card.iter("img", "emoji")
    assert img.attrs["alt"] == ":fedi:"
    assert img.attrs["src"] == f"/cache/{cached['file_name']}"
    assert ":fedi:" not in card.iter("div", "content")[0].text()
