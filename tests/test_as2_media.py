"""Attachments in every shape servers send them: a type for each, never a crash (issue 19)."""

from __future__ import annotations

from typing import Any

import pytest

from fediverse_ai.as2_in import parse_note
from fediverse_ai.as2_media import attachment_of, media_of_object

X = "https://x.example"


def doc(**fields: Any) -> dict[str, Any]:
    return {"type": "Document", **fields}


def link(media_type: str, path: str, **fields: Any) -> dict[str, Any]:
    return {"type": "Link", "mediaType": media_type, "href": f"{X}{path}", **fields}


@pytest.mark.parametrize(
    ("item", "media_type"),
    [
        ({"type": "Document", "mediaType": "image/webp", "url": f"{X}/a"}, "image/webp"),
        ({"type": "Image", "url": f"{X}/a.jpg"}, "image/jpeg"),  # no type: the file name's
        ({"type": "Video", "url": f"{X}/stream"}, "video/*"),  # no name either: the AS2 type's
        ({"type": "Audio", "url": f"{X}/listen?id=3"}, "audio/*"),
        (doc(mediaType="application/octet-stream", url=f"{X}/a.mp3"), "audio/mpeg"),
        (doc(url=[link("image/png", "/f")]), "image/png"),
        (doc(url=[{"type": "Link", "href": f"{X}/v", "mimeType": "video/webm"}]), "video/webm"),
        ({"type": "Document", "url": f"{X}/paper.pdf", "name": "paper"}, "application/pdf"),
        ({"type": "Document", "url": f"{X}/blob"}, "application/octet-stream"),
    ],
)  # fmt: skip
def test_media_type_is_inferred_where_absent(item: dict[str, Any], media_type: str) -> None:
    found = attachment_of(item)
    assert found is not None and found.media_type == media_type


@pytest.mark.parametrize(
    "item",
    [
        None, 5, "https://x.example/a.png", [], {"type": "PropertyValue", "name": "a"},
        {"type": "Image"}, {"url": 5}, {"url": [None, 3, {"href": 7}]},
    ],
)  # fmt: skip
def test_what_is_not_a_file_is_left_out(item: Any) -> None:
    assert attachment_of(item) is None


def test_hostile_fields_are_ignored_not_trusted() -> None:
    found = attachment_of(
        {"type": "Image", "url": f"{X}/a.png", "width": "9999", "height": True,
         "sensitive": "yes", "blurhash": 5, "name": ["x"], "mediaType": {"a": 1}}
    )  # fmt: skip
    assert found is not None
    assert (found.width, found.height, found.sensitive, found.blurhash) == (None, None, False, None)
    assert found.media_type == "image/png" and found.description == ""


def test_a_video_objects_own_media_is_the_rendition_we_can_cache() -> None:
    links = [
        link("text/html", "/w/1"),
        link("video/mp4", "/1080.mp4", height=1080, size=9e9),  # a float: still too big
        link("video/mp4", "/720.mp4", height=720, size=30_000_000),
        link("video/mp4", "/240.mp4", height=240, size=2_000_000),
        link("application/x-mpegURL", "/master.m3u8"),
    ]  # fmt: skip
    own = media_of_object({"url": links, "name": "a film", "sensitive": True}, "Video")
    assert own is not None and own.url == f"{X}/720.mp4" and own.media_type == "video/mp4"
    assert own.sensitive and own.description == "a film"
    assert media_of_object({"url": links[:1]}, "Video") is None  # nothing playable: no media


def test_an_article_keeps_its_title_and_a_note_has_none() -> None:
    base = {
        "id": f"{X}/1",
        "attributedTo": f"{X}/users/a",
        "content": "<p>x</p>",
        "name": " A \n title ",
    }
    assert parse_note({**base, "type": "Article"}).title == "A title"
    assert parse_note({**base, "type": "Note"}).title is None  # a Note's name is no title
    markdown = parse_note(
        {**base, "type": "Video", "mediaType": "text/markdown", "content": "a <b>\n\nb"}
    )
    assert markdown.content == "<p>a &lt;b&gt;</p><p>b</p>"
