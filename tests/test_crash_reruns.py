"""A job that ran but was not recorded done before a crash runs again: the peer must not see
anything new it cannot tell apart from the first run (receivers dedupe by activity id)."""

from __future__ import annotations

from support.live import LiveServer
from support.remote import RemoteFediverse

from fediverse_ai.federation import inbox


async def test_a_follow_processed_again_after_a_crash_sends_the_same_accept(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # Given alice's Follow of the AI, processed and accepted
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    assert (await remote.send(live.inbox("ai"), follow)).status_code == 202
    await live.drain()
    [first] = remote.posts(type="Accept")

    # When the worker is killed before recording the job done, and runs it again on restart
    await inbox.process(live.state, {"uri": follow["id"]})
    await live.drain()

    # Then the Accept it queues again is the same activity, already delivered: nothing is sent
    assert [p.activity["id"] for p in remote.posts(type="Accept") if p.activity] == [
        first.activity["id"] if first.activity else None
    ]
