"""Hostile and mistaken input to the OAuth endpoints and the API: Mastodon's status codes and
bodies, nothing stored, and the web UI's cookie never authenticating an API call."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from support.live import LiveServer, live_server
from web.support import Browserish, make_user

from .support import (
    OOB,
    Client,
    approve,
    authorize_url,
    hidden_fields,
    pkce_pair,
    register_app,
    user_token,
)

REDIRECT = "http://127.0.0.1:9/callback"  # never fetched: only its Location is read


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, timeout=10, trust_env=False)


async def code_for(server: LiveServer, client: Client, **kw: str) -> str:
    challenge = kw.pop("challenge", None)
    async with Browserish(server.base_url) as web:
        return await approve(web, authorize_url(server, client, challenge=challenge, **kw))


async def exchange(server: LiveServer, **fields: str) -> httpx.Response:
    async with api(server) as http:
        return await http.post("/oauth/token", data={"grant_type": "authorization_code", **fields})


async def test_bad_tokens_get_401_with_mastodons_body(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, token = await user_token(server)
        async with api(server) as http:
            unknown = await http.get("/api/v1/accounts/verify_credentials", headers=bearer("x"))
            assert unknown.status_code == 401
            assert unknown.json() == {"error": "The access token is invalid"}
            assert unknown.headers["WWW-Authenticate"].startswith("Bearer ")
            assert unknown.headers["Access-Control-Allow-Origin"] == "*"
            missing = await http.post("/api/v1/statuses", data={"status": "hi"})
            assert missing.status_code == 401
            ok = await http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
            assert ok.status_code == 200
            await server.state.db.execute("UPDATE oauth_tokens SET expires_at = 1")
            expired = await http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
            assert expired.status_code == 401
            assert expired.json() == {"error": "The access token expired"}


async def test_the_settings_page_lists_and_revokes_an_app_at_once(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, token = await user_token(server)
        async with Browserish(server.base_url) as web, api(server) as http:
            await web.login("alice")
            page = await web.get("/settings/apps")
            assert "Test app" in page.text and "Revoke" in page.text
            app_id = await server.state.db.fetchval("SELECT id FROM oauth_apps")
            resp = await web.submit("/settings/apps", f"/settings/apps/{app_id}/revoke")
            assert resp.status_code == 303
            assert "Test app" not in (await web.get("/settings/apps")).text
            after = await http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
            assert after.status_code == 401
            assert after.json() == {"error": "The access token was revoked"}


async def test_the_session_cookie_does_not_authenticate_the_api(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        async with Browserish(server.base_url) as web:
            assert (await web.login("alice")).status_code == 303
            me = await web.client.get("/api/v1/accounts/verify_credentials")
            assert me.status_code == 401
            before = await server.counts()
            posted = await web.client.post("/api/v1/statuses", data={"status": "cookie post"})
            assert posted.status_code == 401  # not a CSRF refusal: no cookie is read at all
            assert await server.counts() == before


async def test_scopes_are_enforced(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        client = await register_app(server)
        async with api(server) as http:
            resp = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": "read"},
                auth=(client.client_id, client.client_secret),
            )
            assert resp.status_code == 200, resp.text
            app_token = resp.json()["access_token"]
            app = await http.get("/api/v1/apps/verify_credentials", headers=bearer(app_token))
            assert app.json()["name"] == "Test app"
            wrong = await http.post(
                "/api/v1/statuses", data={"status": "hi"}, headers=bearer(app_token)
            )
            assert wrong.status_code == 403
            assert wrong.json() == {"error": "This action is outside the authorized scopes"}
            no_user = await http.get("/api/v1/timelines/home", headers=bearer(app_token))
            assert no_user.status_code == 422
            too_wide = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": "admin:read"},
                auth=(client.client_id, client.client_secret),
            )
            assert too_wide.status_code == 400 and too_wide.json()["error"] == "invalid_scope"
            bad_secret = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client.client_id, "wrong"),
            )
            assert bad_secret.status_code == 401
            assert bad_secret.json()["error"] == "invalid_client"


async def test_unknown_ids_and_bad_parameters(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, token = await user_token(server)
        async with api(server) as http:
            for path in (
                "/api/v1/statuses/999999",
                "/api/v1/statuses/not-a-number",
                "/api/v1/statuses/1000000000000099",
                "/api/v1/accounts/999999",
                "/api/v1/accounts/abc/statuses",
                "/api/v1/notifications/12345",
            ):
                resp = await http.get(path, headers=bearer(token))
                assert resp.status_code == 404, path
                assert resp.json() == {"error": "Record not found"}
            before = await server.counts()
            for data in (
                {"status": "   "},
                {"status": "hi", "visibility": "everyone"},
                {"status": "hi", "in_reply_to_id": "424242"},
                {"status": "x" * 6_000},
                {"status": "hi", "sensitive": "perhaps"},
            ):
                resp = await http.post("/api/v1/statuses", data=data, headers=bearer(token))
                assert resp.status_code == 422, (data, resp.text)
                assert resp.json()["error"].startswith("Validation failed")
            huge = await http.post(
                "/api/v1/statuses", data={"status": "x" * 30_000}, headers=bearer("forged")
            )
            assert huge.status_code == 401  # past the body gate only with a live token
            assert await server.counts() == before
            # A live token passes the gate like a session: 4,900 "é" are a 29 KB form.
            long = await http.post(
                "/api/v1/statuses", data={"status": "é" * 4_900}, headers=bearer(token)
            )
            assert long.status_code == 200, long.text
            before = await server.counts()
            no_name = await http.post("/api/v1/apps", data={"redirect_uris": OOB})
            assert no_name.status_code == 422
            script = await http.post(
                "/api/v1/apps", data={"client_name": "x", "redirect_uris": "javascript:alert(1)"}
            )
            assert script.status_code == 422
            junk = await http.post(
                "/api/v1/statuses",
                content=b"[1, 2]",
                headers={**bearer(token), "Content-Type": "application/json"},
            )
            assert junk.status_code == 422


async def test_pkce_codes_and_redirects_are_checked(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        client = await register_app(server, redirect_uris=f"{REDIRECT}\n{OOB}")
        verifier, challenge = pkce_pair()
        code = await code_for(server, client, challenge=challenge, redirect_uri=REDIRECT)
        wrong = await exchange(
            server,
            code=code,
            client_id=client.client_id,
            redirect_uri=REDIRECT,
            code_verifier=verifier + "x",
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        # The failed attempt used the code up: a code works once, right or wrong.
        again = await exchange(
            server,
            code=code,
            client_id=client.client_id,
            redirect_uri=REDIRECT,
            code_verifier=verifier,
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

        code = await code_for(server, client, challenge=challenge, redirect_uri=REDIRECT)
        other_redirect = await exchange(
            server, code=code, client_id=client.client_id, redirect_uri=OOB, code_verifier=verifier
        )
        assert other_redirect.status_code == 400

        code = await code_for(server, client, redirect_uri=REDIRECT)
        no_secret = await exchange(
            server, code=code, client_id=client.client_id, redirect_uri=REDIRECT
        )
        assert no_secret.status_code == 401  # without PKCE the client must authenticate

        code = await code_for(server, client, redirect_uri=REDIRECT)
        fields = {"code": code, "client_id": client.client_id, "redirect_uri": REDIRECT}
        first = await exchange(server, **fields, client_secret=client.client_secret)
        assert first.status_code == 200
        reused = await exchange(server, **fields, client_secret=client.client_secret)
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        async with api(server) as http:
            # A replayed code was probably stolen: the token it gave is revoked too.
            stolen = first.json()["access_token"]
            home = await http.get("/api/v1/timelines/home", headers=bearer(stolen))
            assert home.status_code == 401

        code = await code_for(server, client, redirect_uri=REDIRECT)
        await server.state.db.execute("UPDATE oauth_codes SET expires_at = 1")
        late = await exchange(
            server,
            code=code,
            client_id=client.client_id,
            redirect_uri=REDIRECT,
            client_secret=client.client_secret,
        )
        assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
        password = await exchange(
            server,
            grant_type="password",
            username="alice",
            password="x",
            client_id=client.client_id,
            client_secret=client.client_secret,
        )
        assert password.status_code == 400
        assert password.json()["error"] == "unsupported_grant_type"

        async with Browserish(server.base_url) as web:
            await web.login("alice")
            base = authorize_url(server, client, challenge=None, redirect_uri=REDIRECT)
            unregistered = base.replace("callback", "elsewhere")
            page = await web.get(unregistered.removeprefix(server.base_url))
            assert page.status_code == 400 and "location" not in page.headers
            plain = await web.get(
                base.removeprefix(server.base_url)
                + f"&code_challenge={challenge}&code_challenge_method=plain"
            )
            assert plain.status_code == 302
            assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == [
                "invalid_request"
            ]
            consent = await web.get(base.removeprefix(server.base_url))
            denied = await web.client.post(
                "/oauth/authorize",
                data={**hidden_fields(consent.text), "decision": "deny"},
                headers={"Origin": web.base_url},
            )
            assert denied.status_code == 302
            assert "error=access_denied" in denied.headers["location"]


async def test_refresh_tokens_rotate_and_revoke_works(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        client = await register_app(server)
        code = await code_for(server, client)
        first = await exchange(
            server,
            code=code,
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri=OOB,
        )
        tokens = first.json()
        refresh = {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        }
        async with api(server) as http:
            refreshed = await http.post(
                "/oauth/token",
                data=refresh,
            )
            assert refreshed.status_code == 200, refreshed.text
            new = refreshed.json()["access_token"]
            old_use = await http.get(
                "/api/v1/timelines/home", headers=bearer(tokens["access_token"])
            )
            assert old_use.status_code == 401
            assert (
                await http.get("/api/v1/timelines/home", headers=bearer(new))
            ).status_code == 200
            reused = await http.post(
                "/oauth/token",
                data=refresh,
            )
            assert reused.status_code == 400
            gone = await http.post(
                "/oauth/revoke",
                data={
                    "token": new,
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                },
            )
            assert gone.status_code == 200
            assert (
                await http.get("/api/v1/timelines/home", headers=bearer(new))
            ).status_code == 401


async def test_cors_idempotency_and_pagination(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, token = await user_token(server)
        async with api(server) as http:
            pre = await http.options(
                "/api/v1/statuses",
                headers={
                    "Origin": "https://elk.example",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert pre.status_code == 200
            assert pre.headers["Access-Control-Allow-Origin"] == "*"
            assert "authorization" in pre.headers["Access-Control-Allow-Headers"]
            meta = await http.get("/.well-known/oauth-authorization-server")
            assert meta.json()["code_challenge_methods_supported"] == ["S256"]
            key = {**bearer(token), "Idempotency-Key": "abc-123"}
            one = await http.post("/api/v1/statuses", data={"status": "once"}, headers=key)
            two = await http.post("/api/v1/statuses", data={"status": "once"}, headers=key)
            assert one.status_code == two.status_code == 200
            assert one.json()["id"] == two.json()["id"]
            assert await server.count("SELECT COUNT(*) FROM notes WHERE source = 'once'") == 1
            for text in ("second", "third"):
                await http.post("/api/v1/statuses", data={"status": text}, headers=bearer(token))
            page = await http.get("/api/v1/timelines/public?limit=2")
            first_ids = [s["id"] for s in page.json()]
            assert len(first_ids) == 2
            assert 'rel="next"' in page.headers["Link"]
            next_url = page.headers["Link"].split(";")[0].strip("<>")
            rest = await http.get(next_url)
            assert [s["content"] for s in rest.json()] == ["<p>once</p>"]
            newer = await http.get(
                f"/api/v1/timelines/public?min_id={rest.json()[0]['id']}&limit=1"
            )
            assert [s["id"] for s in newer.json()] == [first_ids[-1]]
            home = await http.get("/api/v1/timelines/home?limit=40", headers=bearer(token))
            assert len(home.json()) == 3
            since = await http.get(
                f"/api/v1/timelines/home?since_id={first_ids[-1]}", headers=bearer(token)
            )
            assert [s["id"] for s in since.json()] == first_ids[:1]


async def test_app_registration_is_rate_limited(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, api(server) as http:
        answers = [
            (
                await http.post(
                    "/api/v1/apps", data={"client_name": f"app {i}", "redirect_uris": OOB}
                )
            ).status_code
            for i in range(12)
        ]
        assert answers[:10] == [200] * 10 and answers[10:] == [429, 429]
        assert await server.count("SELECT COUNT(*) FROM oauth_apps") == 10


async def test_the_consent_form_needs_its_csrf_token(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        client = await register_app(server)
        async with Browserish(server.base_url) as web:
            await web.login("alice")
            consent = await web.get(
                authorize_url(server, client, challenge=None).removeprefix(server.base_url)
            )
            fields = {k: v for k, v in hidden_fields(consent.text).items() if k != "csrf"}
            forged = await web.client.post(
                "/oauth/authorize",
                data={**fields, "decision": "approve"},
                headers={"Origin": web.base_url},
            )
            assert forged.status_code == 403
            assert await server.count("SELECT COUNT(*) FROM oauth_codes") == 0


async def test_unknown_endpoints_and_app_schemes(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        client = await register_app(server, redirect_uris="tusky://oauth")
        async with api(server) as http:
            missing = await http.get("/api/v1/no_such_endpoint")
            assert missing.status_code == 404 and missing.json() == {"error": "Record not found"}
        async with Browserish(server.base_url) as web:
            await web.login("alice")
            url = authorize_url(server, client, challenge=None, redirect_uri="tusky://oauth")
            consent = await web.get(url.removeprefix(server.base_url))
            # The answer redirects to tusky://, which the page's form-action must allow.
            assert (
                "form-action 'self' https: http: tusky:;"
                in (consent.headers["Content-Security-Policy"])
            )
            answer = await web.client.post(
                "/oauth/authorize",
                data={**hidden_fields(consent.text), "decision": "approve"},
                headers={"Origin": web.base_url},
            )
            assert answer.status_code == 302
            assert answer.headers["location"].startswith("tusky://oauth?code=")
