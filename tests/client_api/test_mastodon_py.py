"""A user's session end to end with Mastodon.py, a real client library, against a live
instance: register the app, authorise through login and consent, post, read timelines,
post with an image and alt text, reply, favourite, follow a remote account on the stand-in
peer, mention the AI and get its answer as a notification, revoke, and see the token refused."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from mastodon import Mastodon, MastodonUnauthorizedError
from PIL import Image
from support.live import live_server
from support.remote import remote_server
from web.support import Browserish, make_user

from .support import OOB, SCOPES, approve, user_token


async def call(fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Mastodon.py is synchronous; our server runs in this test's loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_a_session_with_mastodon_py(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        client, token = await user_token(server, "alice")
        api = Mastodon(access_token=token, api_base_url=server.base_url)
        me = await call(api.account_verify_credentials)
        assert me["acct"] == "alice" and isinstance(me["id"], str | int)
        assert me["bot"] is False

        posted = await call(api.status_post, "Hello from an app #firstpost")
        assert posted["visibility"] == "public"
        assert posted["application"]["name"] == "Test app"
        assert posted["tags"][0]["name"] == "firstpost"
        home = await call(api.timeline_home)
        assert [s["id"] for s in home] == [posted["id"]]
        public = await call(api.timeline_public, local=True)
        assert posted["id"] in [s["id"] for s in public]

        picture = io.BytesIO()
        Image.new("RGB", (320, 200), (10, 90, 200)).save(picture, "PNG")
        uploaded = await call(
            api.media_post,
            picture.getvalue(),
            mime_type="image/png",
            description="a blue rectangle",
            focus=(0.2, -0.4),
        )
        assert uploaded["type"] == "image" and uploaded["description"] == "a blue rectangle"
        with_image = await call(api.status_post, "with a picture", media_ids=[uploaded])
        (attached,) = with_image["media_attachments"]
        assert str(attached["id"]) == str(uploaded["id"])
        assert attached["meta"]["focus"] == {"x": 0.2, "y": -0.4}

        reply = await call(api.status_reply, posted, "and a reply")
        assert str(reply["in_reply_to_id"]) == str(posted["id"])
        context = await call(api.status_context, posted["id"])
        assert [s["id"] for s in context["descendants"]] == [reply["id"]]

        liked = await call(api.status_favourite, posted["id"])
        assert liked["favourited"] is True and liked["favourites_count"] == 1

        found = await call(api.search_v2, remote.handle("bob"), resolve=True)
        bob = found["accounts"][0]
        assert bob["acct"] == f"bob@{remote.authority}"
        relation = await call(api.account_follow, bob["id"])
        assert relation["requested"] or relation["following"]
        await server.drain()
        assert [p for p in remote.posts() if p.type == "Follow"]

        asked = await call(api.status_post, "@ai what is photosynthesis?")
        for _ in range(5):
            if not await server.drain():
                break
        mentions = await call(api.notifications, types=["mention"])
        answers = [n for n in mentions if n["account"]["acct"] == "ai"]
        assert answers, mentions
        # A long answer is a self-threaded chain: its first post answers the question.
        (answer,) = [n for n in answers if str(n["status"]["in_reply_to_id"]) == str(asked["id"])]
        assert answer["account"]["bot"] is True
        chain = {str(n["status"]["in_reply_to_id"]) for n in answers}
        assert chain <= {str(asked["id"])} | {str(n["status"]["id"]) for n in answers}

        revoker = Mastodon(
            client_id=client.client_id,
            client_secret=client.client_secret,
            access_token=token,
            api_base_url=server.base_url,
        )
        await call(revoker.revoke_access_token, allow_http=True)
        with pytest.raises(MastodonUnauthorizedError):
            await call(api.account_verify_credentials)


async def test_mastodon_py_registers_and_logs_in_with_its_own_code_flow(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "carol")
        client_id, secret = await call(
            Mastodon.create_app, "Test app", api_base_url=server.base_url, redirect_uris=OOB
        )
        api = Mastodon(client_id=client_id, client_secret=secret, api_base_url=server.base_url)
        url = await call(api.auth_request_url, scopes=SCOPES.split(), allow_http=True)
        async with Browserish(server.base_url) as web:
            code = await approve(web, url, "carol")
        await call(api.log_in, code=code, scopes=SCOPES.split(), allow_http=True)
        assert (await call(api.account_verify_credentials))["username"] == "carol"
        app = await call(api.app_verify_credentials)
        assert app["name"] == "Test app"
