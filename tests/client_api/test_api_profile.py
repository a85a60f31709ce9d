"""update_credentials (profile text, fields, flags, avatar and header through the media
pipeline, federated as an Update) and a locked account's follow requests."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from PIL import Image
from support.live import live_server
from support.remote import remote_server

from .support import user_token
from .test_api_uploads import bearer, jpeg_with_exif

AS2 = "application/activity+json"


async def test_update_credentials_changes_and_federates_the_profile(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        _, token = await user_token(server, "alice")
        alice = await server.account("alice")
        # Given a remote follower
        await remote.send(
            server.shared_inbox,
            remote.activity("bob", "Follow", alice.actor.uri),
        )
        await server.drain()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            # When Alice edits her profile from an app, with a photo carrying EXIF
            resp = await http.patch(
                "/api/v1/accounts/update_credentials",
                data={
                    "display_name": "Alice A.",
                    "note": "Gardener.\n\nLikes <moss>.",
                    "fields_attributes[0][name]": "Site",
                    "fields_attributes[0][value]": "https://alice.example",
                    "fields_attributes[1][name]": "Pronouns",
                    "fields_attributes[1][value]": "she/her",
                    "locked": "true",
                    "bot": "false",
                    "discoverable": "false",
                    "indexable": "false",
                },
                files={
                    "avatar": ("me.jpg", jpeg_with_exif((1200, 900)), "image/jpeg"),
                    "header": ("h.jpg", jpeg_with_exif((3000, 1000)), "image/jpeg"),
                },
                headers=bearer(token),
            )
            assert resp.status_code == 200, resp.text
            me = resp.json()
            # Then the account shows it
            assert me["display_name"] == "Alice A." and me["locked"] is True
            assert me["note"] == "<p>Gardener.</p><p>Likes &lt;moss&gt;.</p>"
            assert [f["name"] for f in me["fields"]] == ["Site", "Pronouns"]
            assert me["discoverable"] is False and me["indexable"] is False and me["bot"] is False
            avatar = await http.get(me["avatar"])
            picture = Image.open(io.BytesIO(avatar.content))
            assert max(picture.size) == 400 and not picture.getexif()
            assert avatar.headers["content-type"] == "image/jpeg"
            header = Image.open(io.BytesIO((await http.get(me["header"])).content))
            assert max(header.size) == 1500
            verified = (
                await http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
            ).json()
            assert verified["display_name"] == "Alice A."
            # source holds the texts as typed, the account its HTML with the link made
            assert verified["source"]["note"] == "Gardener.\n\nLikes <moss>."
            assert verified["source"]["fields"][0]["value"] == "https://alice.example"
            assert 'href="https://alice.example"' in verified["fields"][0]["value"]
            # A field left out stays as it was; marking the account a bot makes it a Service
            again = await http.patch(
                "/api/v1/accounts/update_credentials", data={"bot": "true"}, headers=bearer(token)
            )
            assert again.json()["bot"] is True and again.json()["display_name"] == "Alice A."
            doc = (await http.get(alice.actor.uri, headers={"Accept": AS2})).json()
            assert doc["type"] == "Service" and doc["name"] == "Alice A."
            assert doc["manuallyApprovesFollowers"] is True and doc["indexable"] is False
            assert doc["icon"] == {"type": "Image", "mediaType": "image/jpeg", "url": me["avatar"]}
            # And the follower is sent the Update
            await server.drain()
            updates = remote.posts(type="Update")
            assert updates and updates[-1].verified
            assert updates[-1].activity is not None
            assert updates[-1].activity["object"]["name"] == "Alice A."


async def test_bad_profile_updates_are_refused(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, token = await user_token(server, "alice")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            before = (
                await http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
            ).json()
            fields = {
                f"fields_attributes[{i}][{k}]": "x" for i in range(5) for k in ("name", "value")
            }
            for data, files in (
                ({"display_name": "x" * 31}, None),
                ({"note": "x" * 501}, None),
                (fields, None),
                ({"fields_attributes[0][name]": "n" * 256}, None),
                ({"locked": "perhaps"}, None),
                ({}, {"avatar": ("a.jpg", b"not an image", "image/jpeg")}),
            ):
                resp = await http.patch(
                    "/api/v1/accounts/update_credentials",
                    data=data,
                    files=files,
                    headers=bearer(token),
                )
                assert resp.status_code == 422, (data, resp.text)
            json_fields = await http.patch(
                "/api/v1/accounts/update_credentials",
                json={"fields_attributes": [{"name": "a", "value": "b"}, {"name": 3}]},
                headers=bearer(token),
            )
            assert json_fields.status_code == 422
            after = (
                await http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
            ).json()
            assert after == before


async def test_follow_requests_of_a_locked_account(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        _, bob = await user_token(server, "bob")
        _, carol = await user_token(server, "carol")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            me = await http.patch(
                "/api/v1/accounts/update_credentials",
                data={"locked": "true"},
                headers=bearer(alice),
            )
            alice_id = me.json()["id"]
            ids = {}
            for name, token in (("bob", bob), ("carol", carol)):
                rel = await http.post(f"/api/v1/accounts/{alice_id}/follow", headers=bearer(token))
                assert rel.json()["requested"] is True and rel.json()["following"] is False
                who = await http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
                ids[name] = who.json()["id"]
            listed = await http.get("/api/v1/follow_requests", headers=bearer(alice))
            assert sorted(a["acct"] for a in listed.json()) == ["bob", "carol"]
            ok = await http.post(
                f"/api/v1/follow_requests/{ids['bob']}/authorize", headers=bearer(alice)
            )
            assert ok.status_code == 200 and ok.json()["followed_by"] is True
            no = await http.post(
                f"/api/v1/follow_requests/{ids['carol']}/reject", headers=bearer(alice)
            )
            assert no.status_code == 200 and no.json()["requested_by"] is False
            assert no.json()["followed_by"] is False
            assert (await http.get("/api/v1/follow_requests", headers=bearer(alice))).json() == []
            rel = await http.get(
                f"/api/v1/accounts/relationships?id[]={alice_id}", headers=bearer(bob)
            )
            assert rel.json()[0]["following"] is True
            # Answering again, or for nobody, is a 404
            for path in (
                f"/api/v1/follow_requests/{ids['bob']}/authorize",
                f"/api/v1/follow_requests/{ids['carol']}/authorize",
                "/api/v1/follow_requests/abc/reject",
                f"/api/v1/follow_requests/{ids['bob']}/maybe",
            ):
                assert (await http.post(path, headers=bearer(alice))).status_code == 404, path
