"""Login, sessions, CSRF and the admin gate, over HTTP against a live server."""

from __future__ import annotations

from pathlib import Path

import httpx
from support.live import live_server

from fediverse_ai.storage import actors

from .support import PASSWORD, Browserish, csrf_of, make_user


async def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await make_user(server, "alice")
        resp = await web.login("alice")
        assert resp.status_code == 303 and resp.headers["location"] == "/"
        cookie = resp.headers["set-cookie"]
        assert "fa_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        stored = await server.count("SELECT COUNT(*) FROM sessions")
        assert stored == 1
        # The database keeps a hash, not the token the browser holds.
        token = web.client.cookies["fa_session"]
        assert (
            await server.count("SELECT COUNT(*) FROM sessions WHERE token_hash = ?", [token]) == 0
        )
        home = await web.get("/home")
        assert home.status_code == 200 and "@alice" in home.text
        resp = await web.submit("/home", "/logout")
        assert resp.status_code == 303
        assert await server.count("SELECT COUNT(*) FROM sessions") == 0
        again = await web.get("/home")
        assert again.status_code == 303 and again.headers["location"].startswith("/login?next=")


async def test_passwords_are_stored_as_scrypt(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        actor_id = await make_user(server, "alice")
        stored = await actors.password_hash(server.state.db, actor_id)
        assert stored is not None and stored.startswith("scrypt$15$8$1$")
        assert PASSWORD not in stored


async def test_wrong_password_is_refused_then_rate_limited(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await make_user(server, "alice")
        statuses = [(await web.login("alice", "wrong password")).status_code for _ in range(11)]
        assert statuses[:10] == [401] * 10
        assert statuses[10] == 429
        # Even the right password waits now: guessing cannot continue at full speed.
        assert (await web.login("alice")).status_code == 429
        assert await server.count("SELECT COUNT(*) FROM sessions") == 0


async def test_unknown_user_and_ai_actor_cannot_log_in(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        for name in ("nobody", "ai"):
            resp = await web.login(name)
            assert resp.status_code == 401
            assert "wrong username or password" in resp.text


async def test_forms_without_a_valid_csrf_token_or_from_another_origin_are_refused(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await make_user(server, "alice")
        assert (await web.login("alice")).status_code == 303
        before = await server.counts()
        page = (await web.get("/compose")).text
        token = csrf_of(page)
        no_token = await web.client.post("/compose", data={"text": "hello"})
        wrong = await web.client.post("/compose", data={"text": "hello", "csrf": "x" * 32})
        foreign = await web.client.post(
            "/compose",
            data={"text": "hello", "csrf": token},
            headers={"Origin": "https://evil.example"},
        )
        assert [r.status_code for r in (no_token, wrong, foreign)] == [403, 403, 403]
        assert await server.counts() == before
        ok = await web.client.post(
            "/compose", data={"text": "hello", "csrf": token}, headers={"Origin": web.base_url}
        )
        assert ok.status_code == 303


async def test_login_redirects_only_to_local_paths(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await make_user(server, "alice")
        for target, expected in (
            ("/notifications", "/notifications"),
            ("//evil.example/x", "/"),
            ("https://evil.example/", "/"),
            ("/\\evil.example", "/"),
        ):
            resp = await web.submit(
                "/login", "/login", {"username": "alice", "password": PASSWORD, "next": target}
            )
            assert resp.headers["location"] == expected, target


async def test_admin_pages_need_an_admin(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice", admin=True)
        await make_user(server, "bob")
        async with Browserish(server.base_url) as anon:
            assert (await anon.get("/admin")).status_code == 303
        async with Browserish(server.base_url) as bob:
            await bob.login("bob")
            assert (await bob.get("/admin")).status_code == 403
            resp = await bob.submit("/home", "/admin/domain-blocks", {"domain": "spam.example"})
            assert resp.status_code == 403
        async with Browserish(server.base_url) as alice:
            await alice.login("alice")
            page = await alice.get("/admin")
            assert page.status_code == 200 and "Domain blocks" in page.text


async def test_inbox_posts_need_no_csrf_token(tmp_path: Path) -> None:
    """The CSRF check must not swallow ActivityPub POSTs: they still get their own errors."""
    async with live_server(tmp_path) as server, httpx.AsyncClient() as client:
        resp = await client.post(
            f"{server.base_url}/inbox",
            content=b"{}",
            headers={"Content-Type": "application/activity+json"},
        )
        assert resp.status_code == 400
