"""The AI actor across two real processes behind TLS, with the offline default backends.

carol on B mentions @ai@a.test; A's worker generates with SmolLM2 (text) or the procedural
painter (image) and the threaded reply reaches B, which stores it under carol's post.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from .harness import Instance, wait_until
from .test_federation_e2e import db_row, db_rows, wait_for_note

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def reply_on(b: Instance, mention_uri: str) -> dict[str, object] | None:
    return db_row(b, "SELECT * FROM notes WHERE in_reply_to_uri = ?", (mention_uri,))


def test_mentions_get_threaded_text_and_image_replies(
    two_instances: tuple[Instance, Instance],
) -> None:
    a, b = two_instances
    b.cli("user", "add", "carol")
    text_uri = b.cli(
        "post", "--as", "carol", "@ai@a.test what is the capital of France?"
    ).stdout.strip()
    direct_uri = b.cli(
        "post", "--as", "carol", "--visibility", "direct", "@ai@a.test draw a lighthouse at night"
    ).stdout.strip()
    wait_for_note(a, text_uri, "A never received carol's mention")

    reply = wait_until(
        lambda: reply_on(b, text_uri),
        timeout=120,
        message="no AI reply reached B",
        instances=[a, b],
    )
    assert reply["visibility"] == "unlisted"
    assert reply["ai_generated"] == 1
    assert "AI-generated (offline: SmolLM2-135M-Instruct" in str(reply["content"])
    carol = db_row(b, "SELECT uri FROM actors WHERE username = 'carol' AND local = 1")
    assert carol is not None
    mentions = db_rows(b, "SELECT actor_uri FROM note_mentions WHERE note_id = ?", (reply["id"],))
    assert {"actor_uri": carol["uri"]} in mentions

    image_reply = wait_until(
        lambda: reply_on(b, direct_uri), timeout=120, message="no image reply", instances=[a, b]
    )
    assert image_reply["visibility"] == "direct"
    media = db_row(b, "SELECT * FROM media WHERE note_id = ?", (image_reply["id"],))
    assert media is not None and "lighthouse at night" in str(media["description"])
    with a.client() as http:
        picture = http.get(str(media["url"]))
    assert picture.status_code == 200
    Image.open(io.BytesIO(picture.content)).verify()
    # One mention, one reply: nothing more arrives.
    assert len(db_rows(b, "SELECT id FROM notes WHERE in_reply_to_uri = ?", (text_uri,))) == 1
