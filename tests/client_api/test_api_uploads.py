"""Media uploads through the client API: the web compose's pipeline (EXIF gone, re-encoded),
description and focus editable until a status attaches the upload, and ``media_ids`` limited
to the caller's own unattached uploads; hostile uploads get 422, never a 500."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from support.live import live_server

from .support import register_app, user_token

AS2 = "application/activity+json"


def jpeg_with_exif(size: tuple[int, int] = (800, 600)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def upload(
    http: httpx.AsyncClient, token: str, data: bytes, version: str = "v2", **fields: str
) -> httpx.Response:
    return await http.post(
        f"/api/{version}/media",
        files={"file": ("photo.jpg", data, "image/jpeg")},
        data=fields,
        headers=bearer(token),
    )


async def test_upload_edit_attach_and_deliver(tmp_path: Path, both_stores: str) -> None:
    async with live_server(tmp_path, extra_toml=both_stores) as server:
        _, token = await user_token(server, "alice")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            # Given an upload with alt text, a focal point and EXIF GPS data
            resp = await upload(
                http, token, jpeg_with_exif(), description="a red square", focus="0.5,-0.25"
            )
            # Then it is processed at once: 200 with the finished attachment
            assert resp.status_code == 200, resp.text
            doc: dict[str, Any] = resp.json()
            assert doc["type"] == "image" and doc["description"] == "a red square"
            assert doc["meta"]["focus"] == {"x": 0.5, "y": -0.25}
            assert doc["meta"]["original"]["width"] == 800 and doc["blurhash"]
            served = await http.get(doc["url"])
            assert served.status_code == 200
            stored = Image.open(io.BytesIO(served.content))
            assert not stored.getexif() and b"SecretCam" not in served.content
            media_id = doc["id"]
            # When it is edited before posting
            shown = await http.get(f"/api/v1/media/{media_id}", headers=bearer(token))
            assert shown.status_code == 200 and shown.json()["id"] == media_id
            edited = await http.put(
                f"/api/v1/media/{media_id}",
                data={"description": "a red square on white", "focus": "0,1"},
                headers=bearer(token),
            )
            assert edited.status_code == 200, edited.text
            assert edited.json()["description"] == "a red square on white"
            assert edited.json()["meta"]["focus"] == {"x": 0.0, "y": 1.0}
            # And posted with no text at all (media alone make a status)
            posted = await http.post(
                "/api/v1/statuses", data={"media_ids[]": media_id}, headers=bearer(token)
            )
            assert posted.status_code == 200, posted.text
            status = posted.json()
            (attached,) = status["media_attachments"]
            assert attached["id"] == media_id and attached["url"] == doc["url"]
            assert attached["description"] == "a red square on white"
            assert attached["meta"]["focus"] == {"x": 0.0, "y": 1.0}
            # Then the upload is the status's: no longer editable, not reusable
            assert (
                await http.get(f"/api/v1/media/{media_id}", headers=bearer(token))
            ).status_code == 404
            put_late = await http.put(
                f"/api/v1/media/{media_id}", data={"description": "x"}, headers=bearer(token)
            )
            assert put_late.status_code == 404
            again = await http.post(
                "/api/v1/statuses",
                data={"status": "again", "media_ids[]": media_id},
                headers=bearer(token),
            )
            assert again.status_code == 422
            # And the federated Note carries it with its alt text
            note = (await http.get(status["uri"], headers={"Accept": AS2})).json()
            (item,) = note["attachment"]
            assert item["url"] == doc["url"] and item["name"] == "a red square on white"
            assert item["focalPoint"] == [0.0, 1.0]
            # And the v1 route works too, and JSON media_ids as well
            v1 = await upload(http, token, jpeg_with_exif((40, 40)), version="v1")
            assert v1.status_code == 200 and v1.json()["description"] is None
            posted = await http.post(
                "/api/v1/statuses",
                json={"status": "two", "media_ids": [v1.json()["id"]], "sensitive": True},
                headers=bearer(token),
            )
            assert posted.status_code == 200, posted.text
            assert posted.json()["sensitive"] is True
            assert len(posted.json()["media_attachments"]) == 1


async def test_hostile_uploads_and_media_ids(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        _, bob = await user_token(server, "bob")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            small = jpeg_with_exif((20, 20))
            not_image = await upload(http, alice, b"%PDF-1.4 not a picture")
            assert not_image.status_code == 422 and "Validation failed" in not_image.json()["error"]
            too_big = await upload(http, alice, b"\xff\xd8" + b"0" * (10 * 2**20 + 10))
            assert too_big.status_code == 422, too_big.text
            assert "size" in too_big.json()["error"]
            no_file = await http.post(
                "/api/v2/media", data={"description": "x"}, headers=bearer(alice)
            )
            assert no_file.status_code == 422
            for focus in ("2,0", "nan,0", "1", "a,b", "0,0,0"):
                bad = await upload(http, alice, small, focus=focus)
                assert bad.status_code == 422, (focus, bad.text)
            long_alt = await upload(http, alice, small, description="x" * 1501)
            assert long_alt.status_code == 422
            anonymous = await http.post("/api/v2/media", files={"file": ("a.jpg", small)})
            assert anonymous.status_code == 401
            client = await register_app(server)
            app_token = (
                await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials", "scope": "read"},
                    auth=(client.client_id, client.client_secret),
                )
            ).json()["access_token"]
            assert (await upload(http, app_token, small)).status_code == 403
            ids = []
            for _ in range(5):
                resp = await upload(http, alice, small)
                assert resp.status_code == 200, resp.text
                ids.append(resp.json()["id"])
            # Bob cannot see, edit or post Alice's uploads
            assert (
                await http.get(f"/api/v1/media/{ids[0]}", headers=bearer(bob))
            ).status_code == 404
            stolen = await http.post(
                "/api/v1/statuses",
                data={"status": "mine now", "media_ids[]": ids[0]},
                headers=bearer(bob),
            )
            assert stolen.status_code == 422
            for media_ids in (ids, [ids[0], ids[0]], ["abc"], ["99999999"]):
                resp = await http.post(
                    "/api/v1/statuses",
                    data={"status": "x", "media_ids[]": media_ids},
                    headers=bearer(alice),
                )
                assert resp.status_code == 422, (media_ids, resp.text)
            assert (await http.get("/api/v1/media/abc", headers=bearer(alice))).status_code == 404
            # Nothing was attached by the refusals: four of them still make one status
            ok = await http.post(
                "/api/v1/statuses", data={"media_ids[]": ids[:4]}, headers=bearer(alice)
            )
            assert ok.status_code == 200, ok.text
            assert [m["id"] for m in ok.json()["media_attachments"]] == ids[:4]


async def test_unattached_uploads_are_deleted_after_a_day(tmp_path: Path, both_stores: str) -> None:
    async with live_server(tmp_path, extra_toml=both_stores) as server:
        _, token = await user_token(server, "alice")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            kept, dropped = [
                (await upload(http, token, jpeg_with_exif((30, 30)))).json() for _ in range(2)
            ]
            posted = await http.post(
                "/api/v1/statuses", data={"media_ids[]": kept["id"]}, headers=bearer(token)
            )
            assert posted.status_code == 200
            await server.drain()
            store = server.state.media
            files = {m["id"]: m["url"].rsplit("/", 1)[1] for m in (kept, dropped)}
            assert all(store.exists(f) for f in files.values())
            # When a day has passed, the worker's job deletes the unused one only
            real = server.state.clock
            server.state.clock = lambda: real() + 86_401
            try:
                await server.drain()
            finally:
                server.state.clock = real
            assert store.exists(files[kept["id"]]) and not store.exists(files[dropped["id"]])
            gone = await http.get(f"/api/v1/media/{dropped['id']}", headers=bearer(token))
            assert gone.status_code == 404
            assert (await http.get(kept["url"])).status_code == 200
            assert (await http.get(dropped["url"])).status_code == 404
