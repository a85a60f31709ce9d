"""Markers through Mastodon.py: one app saves where Alice stopped reading, another reads it;
each save bumps the version; bad ids are refused."""

from __future__ import annotations

from pathlib import Path

import httpx
from mastodon import Mastodon
from support.live import live_server

from .support import user_token
from .test_mastodon_py import call


async def test_markers_are_shared_between_apps(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, phone_token = await user_token(server, "alice")
        _, laptop_token = await user_token(server, "alice", new_user=False)
        phone = Mastodon(access_token=phone_token, api_base_url=server.base_url)
        laptop = Mastodon(access_token=laptop_token, api_base_url=server.base_url)
        assert await call(laptop.markers_get, ["home", "notifications"]) == {}
        first = await call(phone.status_post, "one")
        second = await call(phone.status_post, "two")
        saved = await call(phone.markers_set, ["home"], [first["id"]])
        assert saved["home"]["last_read_id"] == str(first["id"]) and saved["home"]["version"] == 1
        await call(phone.markers_set, ["home", "notifications"], [second["id"], "12345"])
        found = await call(laptop.markers_get, ["home", "notifications"])
        assert found["home"]["last_read_id"] == str(second["id"])
        assert found["home"]["version"] == 2 and found["notifications"]["version"] == 1
        assert found["home"]["updated_at"] is not None
        only_home = await call(laptop.markers_get, "home")
        assert list(only_home) == ["home"]

        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            auth = {"Authorization": f"Bearer {phone_token}"}
            form = await http.post(
                "/api/v1/markers", data={"notifications[last_read_id]": "777"}, headers=auth
            )
            assert form.json()["notifications"]["last_read_id"] == "777"
            bad = await http.post(
                "/api/v1/markers", json={"home": {"last_read_id": "not-an-id"}}, headers=auth
            )
            assert bad.status_code == 422
            odd = await http.post("/api/v1/markers", json={"home": ["x"]}, headers=auth)
            assert odd.status_code == 200 and odd.json() == {}
            assert (await http.get("/api/v1/markers?timeline[]=home")).status_code == 401
