"""Accounts on the web (issue 20 item 4): the profile form and its federated Update, the AI's
profile on /admin, the password change, and sign-ups with the admin's approval."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from support.live import AS2_ACCEPT, LiveServer, live_server
from support.remote import remote_server

from fediverse_ai.accounts import ensure_builtin_actors
from fediverse_ai.storage import actors

from .support import PASSWORD, Browserish, make_user

OPEN = "open_registrations = true"


def png(size: tuple[int, int], colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def profile_form(**changes: str) -> dict[str, str]:
    """The form as a browser sends it with these boxes ticked and texts typed."""
    data = {"display_name": "", "bio": ""}
    for i in range(4):
        data[f"field_name_{i}"] = ""
        data[f"field_value_{i}"] = ""
    data.update(changes)
    return data


async def test_profile_form_saves_renders_and_federates_the_update(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        await make_user(server, "alice")
        await make_user(server, "bob")
        alice = await server.account("alice")
        # Given a remote follower of Alice
        await remote.send(server.shared_inbox, remote.activity("bob", "Follow", alice.actor.uri))
        await server.drain()
        async with Browserish(server.base_url) as web:
            await web.login("alice")
            page = await web.get("/settings/profile")
            assert page.status_code == 200 and 'action="/settings/profile"' in page.text
            assert 'href="/settings/profile">Settings</a>' in (await web.get("/home")).text
            # When she saves her profile with a bio, fields, a picture and the flags
            resp = await web.submit(
                "/settings/profile",
                "/settings/profile",
                profile_form(
                    display_name="Alice <A.>",
                    bio="Gardener at https://garden.example with @bob.\n\n#moss <b>fan</b>",
                    field_name_0="Site",
                    field_value_0="https://alice.example",
                    field_name_1="Pronouns",
                    field_value_1="she/her",
                    locked="1",
                    indexable="1",
                ),
                files={"avatar": ("me.png", png((900, 700)), "image/png")},
            )
            assert (
                resp.status_code == 303 and resp.headers["location"] == "/settings/profile?saved=1"
            )
            saved = await web.get("/settings/profile?saved=1")
            assert "Profile saved" in saved.text
            assert 'value="https://alice.example"' in saved.text and "Gardener at" in saved.text
            # Then the actor document shows it, the bio linked as a post is
            doc = (await web.get(alice.actor.uri, headers={"Accept": AS2_ACCEPT})).json()
            assert doc["name"] == "Alice <A.>"
            assert doc["manuallyApprovesFollowers"] is True
            assert doc["discoverable"] is False and doc["indexable"] is True
            summary = doc["summary"]
            assert 'href="https://garden.example"' in summary
            assert 'class="u-url mention"' in summary and "bob</span>" in summary
            assert 'class="mention hashtag"' in summary and "&lt;b&gt;fan&lt;/b&gt;" in summary
            site, pronouns = doc["attachment"]
            assert (
                site["name"] == "Site" and 'rel="me nofollow noopener noreferrer"' in site["value"]
            )
            assert pronouns == {"type": "PropertyValue", "name": "Pronouns", "value": "she/her"}
            # the avatar went through the media pipeline: re-encoded, 400 px on the long side
            avatar = await web.get(doc["icon"]["url"])
            assert max(Image.open(io.BytesIO(avatar.content)).size) == 400
            # and the profile page links the field with rel="me"
            profile = await web.get("/@alice")
            assert 'rel="me nofollow noopener noreferrer"' in profile.text
            assert "Alice &lt;A.&gt;" in profile.text
        # And the follower's server is sent the Update
        await server.drain()
        updates = remote.posts(type="Update")
        assert updates and updates[-1].verified and updates[-1].activity is not None
        assert updates[-1].activity["object"]["name"] == "Alice <A.>"


async def test_bad_profile_forms_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        before = await server.account("alice")
        files_before = sorted(p.name for p in server.config.storage.media_dir.iterdir())
        async with Browserish(server.base_url) as web:
            assert (await web.get("/settings/profile")).status_code == 303  # to the login page
            await web.login("alice")
            for data, files in (
                (profile_form(display_name="x" * 31), None),
                (profile_form(bio="x" * 501), None),
                (profile_form(field_name_0="n" * 256, field_value_0="v"), None),
                (profile_form(), {"avatar": ("a.png", b"not an image", "image/png")}),
                (
                    profile_form(),
                    {"header": ("h.png", b"\x89PNG\r\n\x1a\n" + b"0" * 50, "image/png")},
                ),
                (  # a good avatar is not kept when the header beside it is refused
                    profile_form(),
                    {
                        "avatar": ("a.png", png((300, 300)), "image/png"),
                        "header": ("h.png", b"GIF89a broken", "image/gif"),
                    },
                ),
            ):
                resp = await web.submit("/settings/profile", "/settings/profile", data, files=files)
                assert resp.status_code == 400, (data, resp.text)
                assert 'class="error" role="alert"' in resp.text
            # typed values come back with the error
            resp = await web.submit(
                "/settings/profile",
                "/settings/profile",
                profile_form(display_name="y" * 31, bio="kept"),
            )
            assert ">kept</textarea>" in resp.text
            # without the form's token nothing is saved
            forged = await web.client.post(
                "/settings/profile",
                data=profile_form(display_name="evil"),
                headers={"Origin": server.base_url},
            )
            assert forged.status_code == 403
        after = await server.refreshed(before)
        assert after.actor == before.actor
        media_dir = server.config.storage.media_dir
        assert sorted(p.name for p in media_dir.iterdir()) == files_before


async def test_the_admin_edits_the_ai_profile_and_a_restart_keeps_it(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "root", admin=True)
        await make_user(server, "alice")
        async with Browserish(server.base_url) as web, Browserish(server.base_url) as other:
            await other.login("alice")
            assert (await other.get("/admin/ai-profile")).status_code == 403
            await web.login("root")
            assert 'href="/admin/ai-profile"' in (await web.get("/admin")).text
            page = await web.get("/admin/ai-profile")
            assert page.status_code == 200 and 'name="locked"' not in page.text
            resp = await web.submit(
                "/admin/ai-profile",
                "/admin/ai-profile",
                profile_form(
                    display_name="Helper", bio="Ask me. #nobot is not me", discoverable="1"
                ),
            )
            assert resp.status_code == 303
            forbidden = await other.submit(
                "/settings/profile", "/admin/ai-profile", profile_form(display_name="pwned")
            )
            assert forbidden.status_code == 403
        ai = await server.refreshed(server.ai)
        assert ai.actor.display_name == "Helper" and ai.actor.type == "Service"
        assert ai.actor.discoverable and not ai.actor.indexable and not ai.actor.manually_approves
        # When the server starts again with the same config, the admin's profile stays
        _, again = await ensure_builtin_actors(server.state)
        assert again.actor.display_name == "Helper" and "Ask me." in (again.actor.summary or "")


async def test_password_change_signs_out_the_other_sessions_only(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        async with Browserish(server.base_url) as here, Browserish(server.base_url) as there:
            await here.login("alice")
            await there.login("alice")
            new = "a much better passphrase"
            for data, message in (
                ({"current": "wrong", "new": new, "again": new}, "current password is wrong"),
                ({"current": PASSWORD, "new": new, "again": new + "!"}, "new passwords differ"),
                ({"current": PASSWORD, "new": "short", "again": "short"}, "at least 8 characters"),
            ):
                resp = await here.submit("/settings/password", "/settings/password", data)
                assert resp.status_code == 400 and message in resp.text, resp.text
            assert (await there.get("/home")).status_code == 200  # nothing changed yet
            resp = await here.submit(
                "/settings/password",
                "/settings/password",
                {"current": PASSWORD, "new": new, "again": new},
            )
            assert resp.status_code == 200 and "1 other session signed out" in resp.text
            assert (await here.get("/home")).status_code == 200
            assert (await there.get("/home")).status_code == 303
            assert (await there.login("alice")).status_code == 401  # the old password
            assert (await there.login("alice", new)).status_code == 303


async def signup(web: Browserish, username: str, **extra: str) -> int:
    data = {"username": username, "email": "", "password": PASSWORD, "again": PASSWORD}
    data["reason"] = "I grow moss."
    data.update(extra)
    resp = await web.submit("/signup", "/signup", data)
    return resp.status_code


async def pending_names(server: LiveServer) -> list[str]:
    rows = await server.state.db.fetchall("SELECT username FROM signups WHERE state = 'pending'")
    return [r[0] for r in rows]


async def test_signup_waits_for_approval_then_logs_in(tmp_path: Path) -> None:
    async with live_server(tmp_path, instance_toml=OPEN) as server:
        await make_user(server, "root", admin=True)
        async with Browserish(server.base_url) as visitor, Browserish(server.base_url) as admin:
            nodeinfo = (await visitor.get("/nodeinfo/2.1")).json()
            assert nodeinfo["openRegistrations"] is True
            registrations = (await visitor.get("/api/v2/instance")).json()["registrations"]
            assert registrations["enabled"] is True and registrations["approval_required"] is True
            assert 'href="/signup"' in (await visitor.get("/login")).text
            # When a visitor signs up
            assert await signup(visitor, "newbie", email="n@example.org") == 202
            assert await pending_names(server) == ["newbie"]
            # Then the account waits: no actor, no WebFinger, and the login says why
            assert await actors.account_by_username(server.state.db, "newbie") is None
            finger = await visitor.get(
                "/.well-known/webfinger", params={"resource": "acct:newbie@127.0.0.1"}
            )
            assert finger.status_code == 404
            refused = await visitor.login("newbie")
            assert refused.status_code == 401 and "waiting for an admin" in refused.text
            wrong = await visitor.login("newbie", "not the password")
            assert "waiting" not in wrong.text and "wrong username or password" in wrong.text
            # the name is taken meanwhile, and a bad form is refused with its reason
            assert await signup(visitor, "newbie") == 400
            assert await signup(visitor, "admin") == 400
            # And once the admin approves it, it logs in with its own password
            await admin.login("root")
            listed = await admin.get("/admin/signups")
            assert "newbie" in listed.text and "I grow moss." in listed.text
            done = await admin.submit(
                "/admin/signups", "/admin/signups/approve", {"username": "newbie"}
            )
            assert done.status_code == 200 and "@newbie may log in now" in done.text
            assert (await visitor.login("newbie")).status_code == 303
            assert (await visitor.get("/home")).status_code == 200
            email = await server.state.db.fetchval(
                "SELECT email FROM accounts JOIN actors ON actors.id = accounts.actor_id"
                " WHERE username = 'newbie'"
            )
            assert email == "n@example.org" and await pending_names(server) == []


async def test_rejected_signups_and_the_rate_limit(tmp_path: Path) -> None:
    async with live_server(tmp_path, instance_toml=OPEN) as server:
        await make_user(server, "root", admin=True)
        async with Browserish(server.base_url) as visitor, Browserish(server.base_url) as admin:
            assert await signup(visitor, "spammer") == 202
            await admin.login("root")
            resp = await admin.submit(
                "/admin/signups", "/admin/signups/reject", {"username": "spammer"}
            )
            assert resp.status_code == 200 and "rejected" in resp.text
            assert "did not approve" in (await visitor.login("spammer")).text
            assert await signup(visitor, "spammer") == 400  # the name stays refused
            missing = await admin.submit(
                "/admin/signups", "/admin/signups/approve", {"username": "nobody"}
            )
            assert missing.status_code == 400
            # Three tries per address (the refused one counted), then 429
            assert await signup(visitor, "second") == 202
            assert await signup(visitor, "third") == 429
            assert await pending_names(server) == ["second"]


async def test_without_approval_a_signup_is_active_at_once(tmp_path: Path) -> None:
    async with live_server(tmp_path, instance_toml=f"{OPEN}\napproval_required = false") as server:
        async with Browserish(server.base_url) as visitor:
            resp = await visitor.submit(
                "/signup",
                "/signup",
                {"username": "quick", "password": PASSWORD, "again": PASSWORD, "reason": ""},
            )
            assert resp.status_code == 303 and resp.headers["location"] == "/home"
            assert (await visitor.get("/home")).status_code == 200
        assert await actors.account_by_username(server.state.db, "quick") is not None


async def test_closed_registrations_have_no_signup_page(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as visitor:
        assert (await visitor.get("/signup")).status_code == 404
        assert (await visitor.get("/nodeinfo/2.1")).json()["openRegistrations"] is False
        assert 'href="/signup"' not in (await visitor.get("/login")).text


async def test_password_guesses_are_limited_apart_from_logins(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        async with Browserish(server.base_url) as web, Browserish(server.base_url) as other:
            await web.login("alice")
            wrong = {"current": "guess", "new": "whatever123", "again": "whatever123"}
            answers = [
                (await web.submit("/settings/password", "/settings/password", wrong)).text
                for _ in range(11)
            ]
            assert all("current password is wrong" in a for a in answers[:10])
            assert "too many tries" in answers[10]
            # the login limiter neither counted nor was reset by these
            assert (await other.login("alice")).status_code == 303
