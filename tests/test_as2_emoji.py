"""Custom emoji, the pure parts: tags read from hostile JSON, pictures through the emoji gate,
and ``:shortcode:`` drawn only in text, only for what the object declared."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fediverse_ai.as2_emoji import MAX_EMOJI, emoji_of, emojis_of, shortcodes_in, stored_tag
from fediverse_ai.as2_in import parse_note
from fediverse_ai.emoji_html import MAX_DRAWN, emojify_html, emojify_text
from fediverse_ai.emoji_image import process_emoji
from fediverse_ai.errors import PayloadTooLarge, UnsupportedMedia
from fediverse_ai.sanitize import sanitize_html

ICON = "https://remote.example/e/blobcat.png"


def tag(name: object, url: object = ICON, media_type: object = "image/png") -> dict[str, object]:
    return {
        "type": "Emoji",
        "id": "https://remote.example/emojis/1",
        "name": name,
        "updated": "2024-01-01T00:00:00Z",
        "icon": {"type": "Image", "mediaType": media_type, "url": url},
    }


def test_a_mastodon_emoji_tag_is_read_with_its_colons_stripped() -> None:
    ref = emoji_of(tag(":blobcat:"))
    assert ref is not None
    assert (ref.shortcode, ref.url, ref.media_type) == ("blobcat", ICON, "image/png")
    assert ref.id == "https://remote.example/emojis/1" and ref.updated == 1704067200.0
    assert emoji_of(stored_tag(ref)) == ref  # what we store reads back the same


@pytest.mark.parametrize(
    "bad",
    [
        tag(':x" onerror="alert(1):'),  # would end up in an attribute
        tag(":<script>:"),
        tag(":" + "a" * 65 + ":"),
        tag("::"),
        tag(42),
        tag(":ok:", url="javascript:alert(1)"),
        tag(":ok:", url="/relative.png"),
        tag(":ok:", media_type="image/svg+xml"),  # refused before any fetch
        tag(":ok:", media_type="text/html"),
        {"type": "Emoji", "name": ":ok:"},  # no icon
        {"type": "Mention", "name": ":ok:", "icon": {"url": ICON}},
        "not a tag",
    ],
)
def test_a_hostile_or_unusable_tag_is_dropped(bad: object) -> None:
    assert emoji_of(bad) is None


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+12:00", "9999-12-31T23:59:59-14:00", "yesterday", 10**30]
)
def test_an_unwritable_update_time_is_dropped_not_a_crash(when: object) -> None:
    ref = emoji_of({**tag(":ok:"), "updated": when})
    assert ref is not None and ref.updated is None
    assert "updated" not in stored_tag(ref)


def test_an_object_declares_at_most_fifty_emoji_each_once() -> None:
    tags = [tag(f":e{i}:", url=f"https://remote.example/e/{i}.png") for i in range(80)]
    found = emojis_of([tag(":e0:", url="https://remote.example/first.png"), *tags])
    assert len(found) == MAX_EMOJI
    assert found[0].url == "https://remote.example/first.png"


def test_a_note_keeps_only_checked_emoji_tags() -> None:
    note = parse_note(
        {
            "id": "https://remote.example/notes/1",
            "type": "Note",
            "attributedTo": "https://remote.example/users/alice",
            "content": "<p>hi :blobcat:</p>",
            "tag": [
                tag(":blobcat:"),
                tag(":evil<b>:"),
                {"type": "Hashtag", "name": "#cats", "href": "https://remote.example/tags/cats"},
                {**tag(":extra:"), "onload": "x"},
            ],
        }
    )
    assert [e.shortcode for e in note.emojis] == ["blobcat", "extra"]
    emoji_tags = [t for t in note.tags if t["type"] == "Emoji"]
    assert [t["name"] for t in emoji_tags] == [":blobcat:", ":extra:"]
    assert all("onload" not in t for t in emoji_tags)
    assert note.hashtags == ("cats",)


def test_shortcodes_are_found_as_mastodon_finds_them() -> None:
    assert shortcodes_in("hi :blobcat: and :blob_fox:!", ":blobcat:") == ["blobcat", "blob_fox"]
    assert shortcodes_in("at 10:30:00, a:b:c and http://x/:y:z") == []


def test_only_declared_shortcodes_in_text_nodes_become_pictures() -> None:
    html = sanitize_html(
        '<p>:blobcat: <a href="https://x.example/:blobcat:" title=":blobcat:">:blobcat:</a>'
        " :other: <code>:blobcat:</code> &lt;:blobcat:&gt;</p>"
    )
    out = emojify_html(html, {"blobcat": "/cache/abc.png"})
    img = (
        '<img class="emoji" alt=":blobcat:" title=":blobcat:" src="/cache/abc.png" width="20"'
        ' height="20" draggable="false" loading="lazy" decoding="async">'
    )
    assert out.count(img) == 3  # the text, the link's text, and between the escaped brackets
    assert 'href="https://x.example/:blobcat:"' in out  # attributes untouched
    assert ":other:" in out and "<code>:blobcat:</code>" in out
    assert "&lt;" in out and "&gt;" in out
    assert emojify_html(html, {}) == html


def test_at_most_two_hundred_pictures_are_drawn_per_object() -> None:
    html = sanitize_html("<p>" + " ".join([":a:"] * 300) + "</p><p>:a:</p>")
    out = emojify_html(html, {"a": "/cache/a.png"})
    assert out.count("<img") == MAX_DRAWN == 200
    assert out.count(":a:") == 2 * MAX_DRAWN + 101  # alt and title of each, then the text
    assert emojify_text(":a: " * 300, {"a": "/x.png"}).count("<img") == MAX_DRAWN


def test_plain_text_is_escaped_before_emoji_are_drawn() -> None:
    out = emojify_text('<b>Bob</b> :blobcat: "x"', {"blobcat": "/cache/a.png"})
    assert out.startswith('&lt;b&gt;Bob&lt;/b&gt; <img class="emoji"')
    assert out.endswith('"x"')


def picture(kind: str, size: tuple[int, int] = (64, 64), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    color = {"RGBA": (10, 200, 30, 128), "RGB": (10, 200, 30)}.get(mode, 1)
    Image.new(mode, size, color).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["PNG", "GIF", "WEBP"])
def test_png_gif_and_webp_become_a_still_png(kind: str) -> None:
    image = process_emoji(picture(kind, (600, 300)))
    assert image.media_type == "image/png"
    assert (image.width, image.height) == (256, 128)
    assert Image.open(io.BytesIO(image.data)).format == "PNG"


def test_an_animated_gif_is_kept_still() -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = process_emoji(out.getvalue())
    kept = Image.open(io.BytesIO(image.data))
    assert kept.format == "PNG" and getattr(kept, "n_frames", 1) == 1


def test_svg_jpeg_oversized_and_huge_pictures_are_refused() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    with pytest.raises(UnsupportedMedia):
        process_emoji(svg)
    with pytest.raises(UnsupportedMedia):
        process_emoji(picture("JPEG", mode="RGB"))
    with pytest.raises(PayloadTooLarge):
        process_emoji(b"\x89PNG\r\n\x1a\n" + b"\0" * 300_000)
    with pytest.raises(UnsupportedMedia):
        process_emoji(picture("PNG", (2000, 10), mode="1"))
