"""Streaming: the WebSocket and server-sent-events streams of Mastodon, fed by the in-process
broker where new and deleted notes are published. The AI's answer to a mention arrives on the
user stream as a ``notification`` (with the REST endpoint's id) and an ``update``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import websocket
from support.live import LiveServer, live_server

from fediverse_ai.client_api import stream_routes

from .support import Reachable, user_token

Frame = dict[str, Any]


class Ws:
    """A real WebSocket client (websocket-client, synchronous) driven from the test's loop.

    A thread reads all along, as an app does: websocket-client answers the server's keepalive
    pings only while it reads, and uvicorn drops a connection whose pings go unanswered for
    20 s (1011), which a slow worker drain between two reads would otherwise cause."""

    def __init__(self, conn: websocket.WebSocket) -> None:
        self.conn = conn
        self._frames: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                raw = self.conn.recv()
                if raw:  # "" is the close frame, read for us
                    self._frames.put(raw)
        except (websocket.WebSocketException, OSError):
            self._frames.put(None)  # closed: whoever waits for a frame fails at once

    @classmethod
    async def open(cls, server: Reachable, query: str, **kwargs: Any) -> Ws:
        url = server.base_url.replace("http", "ws", 1) + f"/api/v1/streaming{query}"
        conn = await asyncio.to_thread(websocket.create_connection, url, timeout=30, **kwargs)
        conn.settimeout(None)  # the reader thread waits; frames() times out instead
        return cls(conn)

    async def send(self, doc: Frame) -> None:
        await asyncio.to_thread(self.conn.send, json.dumps(doc))

    async def frames(self, count: int, timeout: float = 30) -> list[Frame]:
        out = []
        for _ in range(count):
            raw = await asyncio.to_thread(self._frames.get, True, timeout)
            assert raw is not None, "the stream was closed"
            out.append(json.loads(raw))
        return out

    async def close(self) -> None:
        """The closing handshake; the reader thread reads the server's answer and ends."""
        # The server may have gone first (it is shutting down): nothing left to close then.
        with contextlib.suppress(websocket.WebSocketException, OSError):
            await asyncio.to_thread(self.conn.send_close)
        await asyncio.to_thread(self._reader.join, 5)
        self.conn.shutdown()


async def drain_all(server: LiveServer) -> None:
    for _ in range(6):
        if not await server.drain():
            break


async def test_the_user_stream_shows_the_ais_answer_live(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        user = await Ws.open(server, f"?stream=user&access_token={alice}")
        # A second connection: the token as the subprotocol, streams by subscribe messages
        public = await Ws.open(server, "", subprotocols=[alice])
        # echoed back (websocket-client lower-cases what it read)
        assert public.conn.getsubprotocol() == alice.lower()
        await public.send({"type": "subscribe", "stream": "public:local"})
        await public.send({"type": "subscribe", "stream": "hashtag", "tag": "Plants"})
        await public.send({"type": "subscribe", "stream": "nonsense"})
        (error,) = await public.frames(1)
        assert error["error"] == "Unknown stream type"
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                auth = {"Authorization": f"Bearer {alice}"}
                # When Alice asks the AI from an app
                asked = (
                    await http.post(
                        "/api/v1/statuses",
                        data={"status": "@ai why are #plants green?"},
                        headers=auth,
                    )
                ).json()
                # Then her own post is on her home stream and on both public ones
                (own,) = await user.frames(1)
                assert own["stream"] == ["user"] and own["event"] == "update"
                assert json.loads(own["payload"])["id"] == asked["id"]
                seen = await public.frames(2)
                assert sorted(tuple(f["stream"]) for f in seen) == [
                    ("hashtag", "plants"),
                    ("public:local",),
                ]
                assert {json.loads(f["payload"])["id"] for f in seen} == {asked["id"]}
                # And when the worker has answered, the answer arrives as an update and a
                # mention notification with the id the REST endpoint gives it
                await drain_all(server)
                frames = await user.frames(2)
                by_event = {f["event"]: json.loads(f["payload"]) for f in frames}
                assert set(by_event) == {"update", "notification"}
                note = by_event["notification"]
                assert note["type"] == "mention" and note["account"]["acct"] == "ai"
                assert note["account"]["bot"] is True
                assert note["status"]["in_reply_to_id"] == asked["id"]
                assert by_event["update"]["id"] == note["status"]["id"]
                listed = (await http.get("/api/v1/notifications", headers=auth)).json()
                assert listed[0]["id"] == note["id"]
                # And a deletion is streamed as the bare id
                await http.delete(f"/api/v1/statuses/{asked['id']}", headers=auth)
                (gone,) = await user.frames(1)
                assert gone == {"stream": ["user"], "event": "delete", "payload": asked["id"]}
        finally:
            await user.close()
            await public.close()


async def test_streams_refuse_bad_tokens_and_show_only_what_the_viewer_may_see(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        _, bob = await user_token(server, "bob")
        for query in ("?stream=user", "?stream=user&access_token=nope"):
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                await Ws.open(server, query)
            assert refused.value.status_code == 401
        with pytest.raises(websocket.WebSocketBadStatusException) as unknown:
            await Ws.open(server, f"?stream=everything&access_token={alice}")
        assert unknown.value.status_code == 400
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            assert (await http.get("/api/v1/streaming/health")).text == "OK"
            assert (await http.get("/api/v1/streaming/user")).status_code == 401
            no_tag = await http.get(f"/api/v1/streaming/hashtag?access_token={bob}")
            assert no_tag.status_code == 400
        watcher = await Ws.open(server, f"?stream=user&access_token={bob}")
        public = await Ws.open(server, f"?stream=public&access_token={bob}")
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                auth = {"Authorization": f"Bearer {alice}"}
                # Alice's followers-only and direct posts that do not concern Bob, then a
                # public one: Bob's streams see the public one first and alone.
                for data in (
                    {"status": "for my followers", "visibility": "private"},
                    {"status": "just a note", "visibility": "direct"},
                    {"status": "unlisted", "visibility": "unlisted"},
                    {"status": "hello world"},
                ):
                    resp = await http.post("/api/v1/statuses", data=data, headers=auth)
                    assert resp.status_code == 200, resp.text
                (first,) = await public.frames(1)
                assert json.loads(first["payload"])["content"] == "<p>hello world</p>"
                mention = await http.post(
                    "/api/v1/statuses", data={"status": "@bob hi"}, headers=auth
                )
                frames = await watcher.frames(2)  # Bob does not follow Alice: only the mention
                assert {f["event"] for f in frames} == {"update", "notification"}
                assert all(
                    json.loads(f["payload"]).get("id") == mention.json()["id"]
                    or json.loads(f["payload"])["status"]["id"] == mention.json()["id"]
                    for f in frames
                )
        finally:
            await watcher.close()
            await public.close()


async def test_server_sent_events_with_heartbeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_routes, "HEARTBEAT_SECONDS", 0.2)
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        async with (
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
            http.stream(
                "GET",
                "/api/v1/streaming/public/local",
                headers={"Authorization": f"Bearer {alice}"},
            ) as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await anext(lines) == ":)"
            assert await anext(lines) == ":thump"
            posted = await http.post(
                "/api/v1/statuses",
                data={"status": "live"},
                headers={"Authorization": f"Bearer {alice}"},
            )
            line = await anext(lines)
            while line in (":thump", ""):
                line = await anext(lines)
            assert line == "event: update"
            data = await anext(lines)
            assert json.loads(data.removeprefix("data: "))["id"] == posted.json()["id"]


async def test_follows_favourites_and_reblogs_are_streamed(tmp_path: Path) -> None:
    # No polling behind them: each is published where it is stored.
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        _, bob = await user_token(server, "bob")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            mine = (
                await http.post(
                    "/api/v1/statuses",
                    data={"status": "like me"},
                    headers={"Authorization": f"Bearer {alice}"},
                )
            ).json()
            alice_id = mine["account"]["id"]
            stream = await Ws.open(server, f"?stream=user:notification&access_token={alice}")
            try:
                as_bob = {"Authorization": f"Bearer {bob}"}
                for path in (
                    f"/api/v1/accounts/{alice_id}/follow",
                    f"/api/v1/statuses/{mine['id']}/favourite",
                    f"/api/v1/statuses/{mine['id']}/reblog",
                ):
                    assert (await http.post(path, headers=as_bob)).status_code == 200
                    (frame,) = await stream.frames(1)
                    assert frame["stream"] == ["user:notification"]
                    assert frame["event"] == "notification"
                    doc = json.loads(frame["payload"])
                    assert doc["account"]["acct"] == "bob"
                    listed = (
                        await http.get(
                            "/api/v1/notifications", headers={"Authorization": f"Bearer {alice}"}
                        )
                    ).json()
                    assert listed[0]["id"] == doc["id"] and listed[0]["type"] == doc["type"]
            finally:
                await stream.close()
