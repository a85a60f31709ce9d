"""Interop: a real peer posts a picture and asks the AI about it (issue 12, item 1's acceptance).

Given a peer's alice who posts a real picture (a sign reading "HELLO 42", made with Pillow and
served by the peer at ``/_media/``) mentioning the AI, when she asks what is in it or for alt
text, then the reply that reaches her inbox answers her mention and carries the offline hints
(the text Tesseract reads, worded as automatic guesses) with the automatic-hints label. The
instance's text backend is the default one, which cannot see: the hints are the whole answer.
"""

from __future__ import annotations

import base64
import io

import pytest
from ai.test_offline_vision import sign

from fediverse_ai.sanitize import html_to_text

from .conftest import Interop, Peer
from .test_peers import ai_reply_to, as_list, id_of

pytestmark = pytest.mark.e2e

SIGN_TEXT = "HELLO 42"
READ = f"automatic text recognition reads in the image: “{SIGN_TEXT}”"
AUTOMATIC_LABEL = "Automatic hints (offline: EfficientNet-Lite0 labels, Tesseract OCR)"


def ask_about_sign(interop: Interop, peer: Peer, question: str) -> str:
    """alice posts the sign mentioning the AI; the text of the AI's reply to that post."""
    if "sign.png" not in peer.memo:
        picture = io.BytesIO()
        sign([SIGN_TEXT], size=72).save(picture, format="PNG")
        data = base64.b64encode(picture.getvalue()).decode("ascii")
        peer.memo["sign.png"] = peer.control(
            "media", name="sign.png", mediaType="image/png", base64=data
        )["url"]
    ai, alice = interop.ours.actor_url("ai"), peer.actor_url()
    attachment = {"type": "Image", "mediaType": "image/png", "url": peer.memo["sign.png"]}
    mention = peer.control(
        "post",
        content=f"@ai@a.test {question}",
        mentions=[ai],
        visibility="public",
        attachments=[{**attachment, "name": "a sign"}],
    )["id"]
    note = ai_reply_to(interop, peer, mention, repr(question))
    assert id_of(note["attributedTo"]) == ai
    mentioned = [t.get("href") for t in as_list(note.get("tag")) if isinstance(t, dict)]
    assert alice in mentioned, note
    return html_to_text(str(note.get("content") or ""))


def test_a_peers_picture_gets_a_description_reply(interop: Interop, peer: Peer) -> None:
    text = ask_about_sign(interop, peer, "what is in this picture?")
    assert "I can't see images, but" in text, text
    assert READ in text, text
    assert "These are automatic guesses, not a description" in text, text
    assert AUTOMATIC_LABEL in text, text


def test_b_alt_text_for_a_peers_picture_is_hints_that_say_they_are_not_alt_text(
    interop: Interop, peer: Peer
) -> None:
    text = ask_about_sign(interop, peer, "alt text for this")
    assert READ in text, text
    assert "They are not alt text: that needs a model that sees the picture." in text, text
    assert AUTOMATIC_LABEL in text, text
