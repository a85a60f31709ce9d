"""The remote media cache (issue 13 item 8): fetched once, re-encoded, served by us, pruned.

Given our server and a real peer on loopback serving real pictures (made with Pillow), a video
header, a decompression bomb and a missing file, when a note with those attachments and an
actor with an avatar arrive, then the worker keeps each usable file under our own URL (the
picture re-encoded without its EXIF, with a thumbnail), refuses the others for good, and a
prune deletes what is older than the retention.
"""

from __future__ import annotations

import io
import subprocess
import sys

import httpx
import pytest
from PIL import Image
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse

from fediverse_ai import media_cache
from fediverse_ai.storage import jobs, remote_files


def jpeg_with_exif(size: tuple[int, int]) -> bytes:
    image = Image.new("RGB", size, (200, 40, 90))
    exif = Image.Exif()
    exif[0x010F] = "Secret Camera Co"  # Make
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPS latitude: where the photo was taken
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")
    return out.getvalue()


MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 2000
BOTH_STORES = pytest.mark.parametrize("live", ["local", "s3"], indirect=True)


@BOTH_STORES
async def test_attachments_and_avatars_are_cached_and_served_by_us(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    base = remote.base_url
    remote.files |= {
        "/m/photo.jpg": ("image/jpeg", jpeg_with_exif((2000, 1000))),
        "/m/clip.mp4": ("video/mp4", MP4),
        "/m/bomb.png": ("image/png", png_bomb()),
        "/m/fake.mp4": ("video/mp4", b"<html>not a video</html>"),
        "/m/avatar.png": ("image/png", jpeg_with_exif((300, 300))),
    }
    remote.users["alice"].actor_extra["icon"] = {"type": "Image", "url": f"{base}/m/avatar.png"}
    attachments = [
        {"type": "Document", "mediaType": "image/jpeg", "url": f"{base}/m/photo.jpg"},
        {"type": "Document", "mediaType": "video/mp4", "url": f"{base}/m/clip.mp4"},
        {"type": "Document", "mediaType": "image/png", "url": f"{base}/m/bomb.png"},
        {"type": "Document", "mediaType": "video/mp4", "url": f"{base}/m/fake.mp4"},
        {"type": "Document", "mediaType": "image/png", "url": f"{base}/m/gone.png"},
    ]
    note = remote.note("alice", "<p>pictures</p>", attachment=attachments)

    response = await remote.send(
        live.shared_inbox, remote.activity("alice", "Create", note, to=[PUBLIC])
    )
    assert response.status_code == 202
    await live.drain()

    rows = {
        url: await remote_files.get(live.state.db, url) for url in (a["url"] for a in attachments)
    }
    states = {url.rsplit("/", 1)[1]: row.state if row else None for url, row in rows.items()}
    assert states == {
        "photo.jpg": "done",
        "clip.mp4": "done",
        "bomb.png": "failed",
        "fake.mp4": "failed",
        "gone.png": "failed",
    }
    photo = rows[f"{base}/m/photo.jpg"]
    assert photo is not None and photo.file_name and photo.thumb_name
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        served = await http.get(f"/cache/{photo.file_name}")
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.headers["x-content-type-options"] == "nosniff"
        picture = Image.open(io.BytesIO(served.content))
        assert picture.size == (2000, 1000) and not picture.getexif()
        assert b"Secret Camera" not in served.content
        thumb = Image.open(io.BytesIO((await http.get(f"/cache/{photo.thumb_name}")).content))
        assert max(thumb.size) == 640
        clip = rows[f"{base}/m/clip.mp4"]
        assert clip is not None
        ranged = await http.get(f"/cache/{clip.file_name}", headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and ranged.headers["content-type"] == "video/mp4"
        assert ranged.content == MP4[:100]
        assert ranged.headers["content-range"] == f"bytes 0-99/{len(MP4)}"
        tail = await http.get(f"/cache/{clip.file_name}", headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == MP4[-10:]
        beyond = await http.get(f"/cache/{clip.file_name}", headers={"Range": "bytes=9999-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(MP4)}"
        assert (await http.get("/cache/" + "0" * 32 + ".jpg")).status_code == 404
    avatar = await remote_files.get(live.state.db, f"{base}/m/avatar.png")
    assert avatar is not None and avatar.state == "done" and avatar.kind == "avatar"
    # Each file was fetched once, and no job is left to retry.
    assert remote.fetched.count("/m/photo.jpg") == 1
    assert await jobs.pending_count(live.state.db, now=live.state.now()) == 0


@BOTH_STORES
async def test_a_prune_deletes_old_files_and_forgets_failures(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    base = remote.base_url
    remote.files["/m/photo.jpg"] = ("image/jpeg", jpeg_with_exif((800, 600)))
    note = remote.note(
        "alice",
        "<p>one</p>",
        attachment=[
            {"type": "Image", "mediaType": "image/jpeg", "url": f"{base}/m/photo.jpg"},
            {"type": "Image", "mediaType": "image/png", "url": f"{base}/m/missing.png"},
        ],
    )
    assert (
        await remote.send(live.shared_inbox, remote.activity("alice", "Create", note))
    ).status_code == 202
    await live.drain()
    photo = await remote_files.get(live.state.db, f"{base}/m/photo.jpg")
    assert photo is not None and photo.file_name
    key = media_cache.cache_key(photo.file_name)
    assert live.state.media.exists(key)

    assert await media_cache.prune(live.state, days=1, dry_run=False) == (0, 0)  # all new
    live.state.clock = lambda: photo.fetched_at + 2 * 86400  # type: ignore[operator]
    files, size = await media_cache.prune(live.state, days=1, dry_run=True)
    assert (files, size) == (1, photo.size) and live.state.media.exists(key)
    assert await media_cache.prune(live.state, days=1) == (1, photo.size)

    assert not live.state.media.exists(key)
    assert await remote_files.get(live.state.db, f"{base}/m/photo.jpg") is None
    assert await remote_files.get(live.state.db, f"{base}/m/missing.png") is None


def test_the_prune_command_exists() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fediverse_ai", "media", "prune", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--dry-run" in done.stdout


def test_audio_and_video_containers_are_recognised_by_their_first_bytes() -> None:
    sniff = media_cache.sniff_audio_video
    assert sniff(MP4) == ("video/mp4", "mp4")
    assert sniff(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 8) == ("audio/mp4", "m4a")
    assert sniff(b"\x1a\x45\xdf\xa3" + b"\x00" * 12) == ("video/webm", "webm")
    assert sniff(b"OggS" + b"\x00" * 12) == ("audio/ogg", "ogg")
    assert sniff(b"ID3\x04" + b"\x00" * 12) == ("audio/mpeg", "mp3")
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") == ("audio/wav", "wav")
    assert sniff(b"<svg xmlns=...>") is None
    assert sniff(b"\x89PNG\r\n\x1a\n") is None


async def test_the_same_file_at_two_urls_is_cached_for_each(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # Found by the inbox fuzzer: files were named by their content alone, so the second URL
    # serving the same bytes broke the file name's UNIQUE constraint and its job crashed.
    base = remote.base_url
    picture = jpeg_with_exif((64, 64))
    remote.files |= {"/m/a.jpg": ("image/jpeg", picture), "/m/b.jpg": ("image/jpeg", picture)}
    attachments = [
        {"type": "Document", "mediaType": "image/jpeg", "url": f"{base}/m/{name}"}
        for name in ("a.jpg", "b.jpg")
    ]
    note = remote.note("alice", "<p>twice</p>", attachment=attachments)
    create = remote.activity("alice", "Create", note, to=[PUBLIC])
    assert (await remote.send(live.shared_inbox, create)).status_code == 202
    await live.drain()

    rows = [await remote_files.get(live.state.db, a["url"]) for a in attachments]
    assert [row.state if row else None for row in rows] == ["done", "done"]
    assert rows[0] and rows[1] and rows[0].file_name != rows[1].file_name
    errors = await live.state.db.fetchall("SELECT last_error FROM jobs WHERE kind = 'cache_media'")
    assert [r["last_error"] for r in errors] == [None, None]
    async with httpx.AsyncClient() as client:
        for row in rows:
            assert row is not None
            served = await client.get(f"{live.base_url}/cache/{row.file_name}")
            assert served.status_code == 200
