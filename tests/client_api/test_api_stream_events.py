"""Every notification type arrives live, and boosts enter the home stream: from the local
actions of the apps (Mastodon.py's ``stream_user`` over server-sent events) and from the
worker processing a peer's signed ``Follow``, ``Like`` and ``Announce`` (a WebSocket client).
Each streamed notification has the id ``GET /api/v1/notifications`` gives it."""

from __future__ import annotations

import asyncio
import json
import queue
import time
from pathlib import Path
from typing import Any

from mastodon import Mastodon, StreamListener
from support.live import LiveServer, live_server
from support.remote import RemoteFediverse, remote_server
from web.support import Browserish

from .support import mastodon_users
from .test_api_streaming import Frame, Ws
from .test_mastodon_py import call


class Collector(StreamListener):  # type: ignore[misc]
    """Mastodon.py's listener, handing each event to the test's loop through a queue."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.connected: queue.Queue[bool] = queue.Queue()

    def on_update(self, status: Any) -> None:
        self.events.put(("update", status))

    def on_status_update(self, status: Any) -> None:
        self.events.put(("status.update", status))

    def on_notification(self, notification: Any) -> None:
        self.events.put(("notification", notification))

    def on_delete(self, status_id: Any) -> None:
        self.events.put(("delete", status_id))

    def handle_heartbeat(self) -> None:  # the ":)" that opens our streams, then ":thump"
        self.connected.put(True)

    async def next(self) -> tuple[str, Any]:
        return await asyncio.to_thread(self.events.get, True, 20)


async def open_user_stream(api: Mastodon) -> tuple[Any, Collector]:
    listener = Collector()
    handle = await call(api.stream_user, listener, run_async=True)
    await asyncio.to_thread(listener.connected.get, True, 20)
    return handle, listener


async def notified(ws: Ws) -> dict[str, Any]:
    (frame,) = await ws.frames(1)
    assert frame["event"] == "notification", frame
    doc: dict[str, Any] = json.loads(frame["payload"])
    return doc


async def test_boosts_follows_favourites_and_edits_stream_from_the_apps(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        (alice, _), (bob, bob_token), (carol, carol_token) = await mastodon_users(
            server, "alice", "bob", "carol"
        )
        bob_id = (await call(bob.account_verify_credentials))["id"]
        carol_id = (await call(carol.account_verify_credentials))["id"]
        await call(alice.account_follow, bob_id)  # Alice follows Bob, not Carol
        post = await call(carol.status_post, "carol's thoughts")
        handle, alice_live = await open_user_stream(alice)
        carols = await Ws.open(server, f"?stream=user:notification&access_token={carol_token}")
        bobs = await Ws.open(server, f"?stream=user&access_token={bob_token}")
        try:
            # When Bob boosts Carol's post
            await call(bob.status_reblog, post["id"])
            # Then it enters Alice's home stream as Bob's reblog, with the home timeline's id
            event, status = await alice_live.next()
            assert event == "update"
            assert status["account"]["acct"] == "bob"
            assert status["reblog"]["id"] == post["id"]
            home = await call(alice.timeline_home)
            assert home[0]["id"] == status["id"] and home[0]["reblog"]["id"] == post["id"]
            # And Carol is told, with the id the REST list gives
            told = await notified(carols)
            assert told["type"] == "reblog" and told["account"]["acct"] == "bob"
            assert told["status"]["id"] == str(post["id"])
            listed = await call(carol.notifications)
            assert str(listed[0]["id"]) == told["id"]
            # And a favourite, a follow, and (Carol locked) a follow request come live too
            await call(bob.status_favourite, post["id"])
            assert (await notified(carols))["type"] == "favourite"
            await call(bob.account_follow, carol_id)
            followed = await notified(carols)
            assert followed["type"] == "follow" and followed["account"]["acct"] == "bob"
            await call(carol.account_update_credentials, locked=True)
            await call(alice.account_follow, carol_id)
            asked = await notified(carols)
            assert asked["type"] == "follow_request" and asked["account"]["acct"] == "alice"
            assert asked["status"] is None
            # When Carol edits the post Bob boosted
            await call(carol.status_update, post["id"], "carol's second thoughts")
            # Then Bob's stream has the edit (he follows her now) and his update notification
            frames: list[Frame] = await bobs.frames(2)
            by_event = {f["event"]: json.loads(f["payload"]) for f in frames}
            assert by_event["status.update"]["id"] == str(post["id"])
            assert by_event["notification"]["type"] == "update"
            assert by_event["notification"]["status"]["id"] == str(post["id"])
            updates = await call(bob.notifications, types=["update"])
            assert str(updates[0]["id"]) == by_event["notification"]["id"]
            # And Alice, who does not follow Carol, saw nothing of the edit: her next event
            # is Bob's own post
            mine = await call(bob.status_post, "bob here")
            event, status = await alice_live.next()
            assert (event, status["id"]) == ("update", mine["id"])
            # And when Bob undoes his boost, it leaves Alice's home stream
            reblog_id = home[0]["id"]
            await call(bob.status_unreblog, post["id"])
            event, gone = await alice_live.next()
            assert (event, str(gone)) == ("delete", str(reblog_id))
        finally:
            await call(handle.close)
            await carols.close()
            await bobs.close()


async def deliver(ours: LiveServer, remote: RemoteFediverse, activity: dict[str, Any]) -> None:
    response = await remote.send(ours.shared_inbox, activity)
    assert response.status_code == 202, response.text
    await ours.drain()


async def test_a_peers_follow_like_and_boost_stream_from_the_worker(tmp_path: Path) -> None:
    async with (
        remote_server(("dana",)) as remote,
        live_server(tmp_path / "ours") as server,
    ):
        ((alice, token),) = await mastodon_users(server, "alice")
        post = await call(alice.status_post, "hello, peers")
        found = await call(alice.search_v2, remote.handle("dana"), resolve=True)
        dana_id = found["accounts"][0]["id"]
        await call(alice.account_follow, dana_id)
        await server.drain()
        (follow,) = [p.activity for p in remote.posts(type="Follow")]
        assert follow is not None
        await deliver(server, remote, remote.activity("dana", "Accept", remote.embedded(follow)))
        ws = await Ws.open(server, f"?stream=user&access_token={token}")
        try:
            alice_uri = (await server.account("alice")).actor.uri
            # When the peer's Follow, Like and Announce are processed by the worker
            await deliver(server, remote, remote.activity("dana", "Follow", alice_uri))
            followed = await notified(ws)
            assert followed["type"] == "follow"
            assert followed["account"]["acct"] == f"dana@{remote.authority}"
            like = remote.activity("dana", "Like", post["uri"])
            await deliver(server, remote, like)
            liked = await notified(ws)
            assert liked["type"] == "favourite" and liked["status"]["id"] == str(post["id"])
            # A redelivered Like is stored once and streamed once: the next frame is the boost
            await deliver(server, remote, like)
            announce = remote.activity(
                "dana", "Announce", post["uri"], to=["https://www.w3.org/ns/activitystreams#Public"]
            )
            await deliver(server, remote, announce)
            frames = await ws.frames(2)
            by_event = {f["event"]: json.loads(f["payload"]) for f in frames}
            assert set(by_event) == {"update", "notification"}
            # Then the boost is in Alice's home (she follows Dana) and notifies her
            assert by_event["update"]["reblog"]["id"] == str(post["id"])
            assert by_event["notification"]["type"] == "reblog"
            listed = await call(alice.notifications)
            assert [(str(n["id"]), n["type"]) for n in listed[:3]] == [
                (by_event["notification"]["id"], "reblog"),
                (liked["id"], "favourite"),
                (followed["id"], "follow"),
            ]
        finally:
            await ws.close()


async def test_a_polls_end_notifies_its_author_and_voters_live(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        (alice, alice_token), (bob, bob_token) = await mastodon_users(server, "alice", "bob")
        asked = await call(
            alice.status_post, "tea?", poll=alice.make_poll(["tea", "coffee"], expires_in=300)
        )
        await call(bob.poll_vote, asked["poll"]["id"], [1])
        streams = [
            await Ws.open(server, f"?stream=user:notification&access_token={token}")
            for token in (alice_token, bob_token)
        ]
        try:
            # When the poll's end comes (moved to now: its close job is due) and the worker runs
            now = time.time()
            await server.state.db.execute(
                "UPDATE polls SET end_time = ? WHERE note_id = ?", (now - 1, int(asked["id"]))
            )
            await server.state.db.execute(
                "UPDATE jobs SET run_after = ? WHERE kind = 'poll_close'", (now - 1,)
            )
            await server.drain()
            # Then both are told, with the ids the REST list gives them
            for api, stream in zip((alice, bob), streams, strict=True):
                told = await notified(stream)
                assert told["type"] == "poll" and told["account"]["acct"] == "alice"
                assert told["status"]["poll"]["expired"] is True
                assert told["status"]["poll"]["options"][1]["votes_count"] == 1
                (listed,) = await call(api.notifications, types=["poll"])
                assert str(listed["id"]) == told["id"]
            async with Browserish(server.base_url) as web:  # and the web page lists it too
                await web.login("bob")
                page = await web.get("/notifications")
            assert page.status_code == 200 and "has a poll that ended" in page.text
        finally:
            for stream in streams:
                await stream.close()


async def test_notify_me_of_a_followed_accounts_posts(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        (alice, _), (bob, bob_token) = await mastodon_users(server, "alice", "bob")
        alice_id = (await call(alice.account_verify_credentials))["id"]
        relation = await call(bob.account_follow, alice_id, notify=True)
        assert relation["following"] is True and relation["notifying"] is True
        stream = await Ws.open(server, f"?stream=user:notification&access_token={bob_token}")
        try:
            # When Alice posts, then answers herself (a reply: no "status" notification)
            news = await call(alice.status_post, "news!")
            told = await notified(stream)
            assert told["type"] == "status" and told["status"]["id"] == str(news["id"])
            await call(alice.status_reply, news, "and a detail")
            more = await call(alice.status_post, "more news")
            # Then Bob is told of each post, not of the reply, with the REST list's ids
            told_more = await notified(stream)
            assert told_more["status"]["id"] == str(more["id"])
            listed = await call(bob.notifications, types=["status"])
            assert [str(n["id"]) for n in listed] == [told_more["id"], told["id"]]
            async with Browserish(server.base_url) as web:
                await web.login("bob")
                page = await web.get("/notifications")
            assert page.status_code == 200 and page.text.count(" posted</p>") == 2
            # And once he turns it off, a post tells him nothing more
            relation = await call(bob.account_follow, alice_id, notify=False)
            assert relation["notifying"] is False
            await call(alice.status_post, "quiet news")
            assert not await call(bob.notifications, types=["status"], since_id=told_more["id"])
        finally:
            await stream.close()
