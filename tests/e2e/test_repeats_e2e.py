"""Issue 18 through the TLS front: a re-follow that reuses its Follow id is followed again.

Given our instance behind nginx and a signed peer that reuses Follow ids (as Takahē does), when
the peer follows the AI, undoes it and follows again with the same id, then the follower is
stored again and a second Accept reaches the peer, verified by its own signature check.
"""

from __future__ import annotations

import pytest

from .peers import Front, front, peers, settled, until
from .test_federation_e2e import follow_state

pytestmark = pytest.mark.e2e
__all__ = ["front"]  # the module's fixture


async def test_follow_undo_follow_with_the_same_id(front: Front) -> None:
    a = front.instance
    ai = a.actor_url("ai")
    async with peers(front) as (_evil, victim):
        bob = victim.actor_uri("bob")
        follow = victim.activity("bob", "Follow", ai)
        undo = victim.activity("bob", "Undo", victim.embedded(follow))

        assert (await victim.send(front.inbox, follow)).status_code == 202
        await until(lambda: follow_state(a, bob, ai) == "accepted", message="first follow")
        assert (await victim.send(front.inbox, undo)).status_code == 202
        await settled(a, undo["id"])
        assert follow_state(a, bob, ai) is None
        assert (await victim.send(front.inbox, follow)).status_code == 202

        await until(lambda: follow_state(a, bob, ai) == "accepted", message="no second follow")
        accepts = await until(
            lambda: [p for p in victim.posts(type="Accept") if p.verified][1:],
            message="no second Accept",
        )
        assert accepts[0].activity is not None
        assert accepts[0].activity["object"]["id"] == follow["id"]
