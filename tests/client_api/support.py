"""Getting a token the way an app's user does: register the app, open the authorize page,
log in with the web form, approve on the consent page, read the code, exchange it."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import ssl
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from mastodon import Mastodon
from support.live import LiveServer
from web.support import PASSWORD, Browserish, make_user

OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = "read write follow push"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_CODE = re.compile(r'id="oauth-code"[^>]*value="([^"]+)"')


@dataclass
class Client:
    client_id: str
    client_secret: str


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


class Reachable(Protocol):
    """An instance the flow can talk to: a :class:`LiveServer`, or an interop test's
    ``Instance`` behind TLS (then ``verify`` names the test CA)."""

    base_url: str


async def register_app(
    server: Reachable,
    *,
    redirect_uris: str = OOB,
    scopes: str = SCOPES,
    verify: ssl.SSLContext | bool = True,
) -> Client:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, verify=verify) as http:
        resp = await http.post(
            "/api/v1/apps",
            data={"client_name": "Test app", "redirect_uris": redirect_uris, "scopes": scopes},
        )
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    return Client(doc["client_id"], doc["client_secret"])


async def approve(web: Browserish, authorize_url: str, username: str = "alice") -> str:
    """Open ``authorize_url`` as a signed-out browser, log in, approve; returns the code
    (from the oob page or the redirect's query)."""
    parts = urlsplit(authorize_url)
    path = f"{parts.path}?{parts.query}"
    first = await web.get(path)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
    login_page = await web.get(first.headers["location"])
    fields = hidden_fields(login_page.text)
    assert fields["next"] == path
    logged_in = await web.client.post(
        "/login",
        data={**fields, "username": username, "password": PASSWORD},
        headers={"Origin": web.base_url},
    )
    assert logged_in.status_code == 303 and logged_in.headers["location"] == path
    consent = await web.get(path)
    assert consent.status_code == 200 and "Authorise Test app?" in consent.text
    answer = await web.client.post(
        "/oauth/authorize",
        data={**hidden_fields(consent.text), "decision": "approve"},
        headers={"Origin": web.base_url},
    )
    if answer.status_code == 200:
        found = _CODE.search(answer.text)
        assert found, answer.text
        return html.unescape(found.group(1))
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


def authorize_url(
    server: Reachable,
    client: Client,
    *,
    challenge: str | None,
    redirect_uri: str = OOB,
    scopes: str = SCOPES,
) -> str:
    query = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": scopes,
    }
    if challenge:
        query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return f"{server.base_url}/oauth/authorize?{urlencode(query)}"


async def user_token(
    server: Reachable,
    username: str = "alice",
    *,
    scopes: str = SCOPES,
    new_user: bool = True,
    verify: ssl.SSLContext | bool = True,
) -> tuple[Client, str]:
    """A user (``new_user``: made now, on a :class:`LiveServer`), an app, and an access token
    for them with ``scopes`` through the whole PKCE flow."""
    if new_user:
        assert isinstance(server, LiveServer), "make the user with the instance's CLI"
        await make_user(server, username)
    client = await register_app(server, verify=verify)
    verifier, challenge = pkce_pair()
    url = authorize_url(server, client, challenge=challenge, scopes=scopes)
    async with Browserish(server.base_url, verify=verify) as web:
        code = await approve(web, url, username)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, verify=verify) as http:
        resp = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": OOB,
                "client_id": client.client_id,
                "code_verifier": verifier,
            },
        )
    assert resp.status_code == 200, resp.text
    return client, resp.json()["access_token"]


async def mastodon_users(server: LiveServer, *names: str) -> list[tuple[Mastodon, str]]:
    """For each name a new user, logged in through the PKCE flow, and a Mastodon.py client
    with the token: ``(client, token)``."""
    out = []
    for name in names:
        _, token = await user_token(server, name)
        out.append((Mastodon(access_token=token, api_base_url=server.base_url), token))
    return out
