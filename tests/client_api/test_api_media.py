"""Remote media in entities: our cached copy once the cache holds it (thumbnail as the
preview), else the remote URL, as Mastodon hotlinks media it has not fetched."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from PIL import Image
from support.live import live_server
from support.remote import PUBLIC, remote_server

from fediverse_ai.storage import remote_files


def jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 60)).save(out, "JPEG")
    return out.getvalue()


async def test_cached_media_are_ours_and_the_rest_hotlinked(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        base = remote.base_url
        remote.files |= {
            "/m/photo.jpg": ("image/jpeg", jpeg((1600, 800))),
            "/m/face.jpg": ("image/jpeg", jpeg((200, 200))),
        }
        remote.users["bob"].actor_extra["icon"] = {"type": "Image", "url": f"{base}/m/face.jpg"}
        note = remote.note(
            "bob",
            "<p>pictures</p>",
            to=[PUBLIC],
            attachment=[
                {
                    "type": "Document",
                    "mediaType": "image/jpeg",
                    "url": f"{base}/m/photo.jpg",
                    "name": "a field",
                    "width": 1600,
                    "height": 800,
                },
                {"type": "Document", "mediaType": "image/png", "url": f"{base}/m/gone.png"},
            ],
        )
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
        await server.drain()
        photo = await remote_files.get(server.state.db, f"{base}/m/photo.jpg")
        assert photo is not None and photo.state == "done"
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            timeline = (await http.get("/api/v1/timelines/public?remote=true")).json()
            assert (await http.get("/api/v1/timelines/public?local=true")).json() == []
        (status,) = timeline
        cached, missing = status["media_attachments"]
        assert cached["url"] == f"{server.base_url}/cache/{photo.file_name}"
        assert cached["preview_url"] == f"{server.base_url}/cache/{photo.thumb_name}"
        assert cached["remote_url"] == f"{base}/m/photo.jpg"
        assert cached["description"] == "a field" and cached["type"] == "image"
        assert cached["meta"]["original"]["width"] == 1600
        assert missing["url"] == missing["remote_url"] == f"{base}/m/gone.png"
        assert status["account"]["avatar"].startswith(f"{server.base_url}/cache/")
        assert status["account"]["acct"] == f"bob@{remote.authority}"


async def test_a_sensitive_attachment_makes_the_status_sensitive(tmp_path: Path) -> None:
    """Issue 19: media a peer flagged sensitive (on the attachment, not the note) is sensitive
    in the API too, so apps cover it as our pages do."""
    async with live_server(tmp_path) as server, remote_server() as remote:
        remote.files["/m/x.jpg"] = ("image/jpeg", jpeg((64, 64)))
        flagged = remote.note(
            "bob",
            "<p>careful</p>",
            to=[PUBLIC],
            attachment=[
                {
                    "type": "Image",
                    "mediaType": "image/jpeg",
                    "url": f"{remote.base_url}/m/x.jpg",
                    "sensitive": True,
                }
            ],
        )
        plain = remote.note("bob", "<p>fine</p>", to=[PUBLIC])
        for note in (flagged, plain):
            await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
        await server.drain()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            timeline = (await http.get("/api/v1/timelines/public")).json()
        by_uri = {s["uri"]: s for s in timeline}
        assert by_uri[flagged["id"]]["sensitive"] is True
        assert by_uri[plain["id"]]["sensitive"] is False
