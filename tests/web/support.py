"""A cookie-keeping HTTP client that fills in CSRF tokens the way a browser submits forms."""

from __future__ import annotations

import html
import re
import ssl
from typing import Any

import httpx
from support.live import LiveServer

from fediverse_ai.passwords import hash_password
from fediverse_ai.storage import actors

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "no CSRF field in the page"
    return html.unescape(found.group(1))


class Browserish:
    """What a browser without JavaScript does: GET a page, POST its form with the token."""

    def __init__(self, base_url: str, *, verify: ssl.SSLContext | bool = True) -> None:
        """``verify``: the CA to trust, for an instance behind the e2e harness's TLS."""
        self.base_url = base_url
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=30.0,
            trust_env=False,
            headers={"Accept": "text/html"},
            verify=verify,
        )

    async def __aenter__(self) -> Browserish:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, **kw)

    async def token(self, path: str = "/login") -> str:
        page = await self.get(path)
        return csrf_of(page.text)

    async def submit(
        self,
        form_page: str,
        action: str,
        data: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """POST ``action`` with the CSRF token read from ``form_page``, as the browser would."""
        fields = {"csrf": await self.token(form_page), **(data or {})}
        headers = {"Origin": self.base_url}
        return await self.client.post(action, data=fields, files=files, headers=headers)

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.submit("/login", "/login", {"username": username, "password": password})


async def make_user(server: LiveServer, username: str, *, admin: bool = False) -> int:
    account = await server.account(username)
    await actors.set_password_hash(server.state.db, account.actor.id, hash_password(PASSWORD))
    if admin:
        await actors.set_admin(server.state.db, account.actor.id, True)
    return account.actor.id
