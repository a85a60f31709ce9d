"""What a visitor without a session can make the server spend: no megabytes of buffered upload
before the CSRF check, and the same scrypt for an unknown username as for a wrong password."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support.live import LiveServer, live_server

from fediverse_ai import passwords
from fediverse_ai.web.body_gate import ANON_BODY_MAX

from .support import Browserish, make_user

DECLARED = 40 * 1024 * 1024  # under the app's 42 MB cap: only the gate stands in the way
SENT = 256 * 1024  # what the test sends before it waits for an answer
ANSWER_WITHIN_S = 10.0


async def post_part_of_a_body(
    server: LiveServer, path: str, headers: dict[str, str], *, chunked: bool = False
) -> tuple[int, str]:
    """POST ``path`` declaring a 40 MB body (or a chunked one), send only the first 256 KB and
    wait for the answer: a server that reads the body before it decides never answers."""
    host, port = server.config.instance.domain.split(":")
    assert host.startswith("127.")
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {DECLARED}"]
    part = os.urandom(SENT)
    payload = f"{len(part):x}\r\n".encode() + part + b"\r\n" if chunked else part
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write("\r\n".join(head).encode() + b"\r\n\r\n" + payload)
        await writer.drain()
        async with asyncio.timeout(ANSWER_WITHIN_S):
            status_line = await reader.readline()
            response_head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            length = next(
                int(line.split(":", 1)[1])
                for line in response_head.split("\r\n")
                if line.lower().startswith("content-length:")
            )
            body = (await reader.readexactly(length)).decode("utf-8", "replace")
    finally:
        writer.close()
    return int(status_line.split()[1]), body


async def test_anonymous_uploads_are_refused_before_the_body_is_read(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await web.get("/login")
        anon_cookie = web.client.cookies["fa_csrf"]
        multipart = {"Content-Type": "multipart/form-data; boundary=x", "Accept": "text/html"}
        before = await server.counts()
        for cookie in (None, f"fa_csrf={anon_cookie}", f"fa_csrf={anon_cookie}; fa_session=x"):
            headers = {**multipart, **({"Cookie": cookie} if cookie else {})}
            status, body = await post_part_of_a_body(server, "/compose", headers)
            assert status == 413, cookie
            assert "log in first" in body and "<html" in body  # the usual error page
            status, body = await post_part_of_a_body(server, "/login", headers, chunked=True)
            assert status == 411, cookie
        assert await server.counts() == before
        # A form of ordinary size still gets as far as the CSRF check, and a login works.
        resp = await web.client.post("/login", data={"username": "x", "password": "y"})
        assert resp.status_code == 403
        await make_user(server, "alice")
        assert (await web.login("alice")).status_code == 303


async def test_a_signed_in_user_still_uploads_more_than_the_anonymous_cap(
    tmp_path: Path,
) -> None:
    noise = Image.frombytes("RGB", (160, 160), os.urandom(160 * 160 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    image = out.getvalue()
    assert len(image) > 4 * ANON_BODY_MAX
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await make_user(server, "alice")
        assert (await web.login("alice")).status_code == 303
        resp = await web.submit(
            "/compose",
            "/compose",
            {"text": "noise", "alt0": "grey noise", "visibility": "public", "action": "post"},
            files={"image0": ("noise.png", image, "image/png")},
        )
        assert resp.status_code == 303
        assert await server.count("SELECT COUNT(*) FROM media WHERE description = 'grey noise'")


@pytest.fixture
def kdf_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The log2(n) of every scrypt the password module runs (login runs it in a thread)."""
    runs: list[int] = []
    real = passwords._kdf

    def counting(salt: bytes, log2_n: int, r: int, p: int) -> Any:
        runs.append(log2_n)
        return real(salt, log2_n, r, p)

    monkeypatch.setattr(passwords, "_kdf", counting)
    return runs


async def test_an_unknown_username_costs_the_same_scrypt_as_a_wrong_password(
    tmp_path: Path, kdf_runs: list[int]
) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await make_user(server, "alice")
        bob = await make_user(server, "bob")
        await server.state.db.execute(
            "UPDATE accounts SET password_hash = 'scrypt$garbage' WHERE actor_id = ?", (bob,)
        )
        for username in ("alice", "nobody", "ai", "bob"):  # known, unknown, no password, broken
            kdf_runs.clear()
            resp = await web.login(username, "not the password")
            assert resp.status_code == 401, username
            assert kdf_runs == [passwords.LOG2_N], username


def test_verifying_against_no_hash_still_runs_the_kdf(kdf_runs: list[int]) -> None:
    assert passwords.verify_password("whatever", None) is False
    assert passwords.verify_password("whatever", "md5$abc") is False
    assert passwords.verify_password("whatever", "scrypt$99$8$1$AAAA$AAAA") is False
    assert kdf_runs == [passwords.LOG2_N] * 3
    stored = passwords.hash_password("right password")
    kdf_runs.clear()
    assert passwords.verify_password("right password", stored) is True
    assert kdf_runs == [passwords.LOG2_N]
