"""Delivery durability between two real processes: a post made while the peer is down
survives the sender's crash and arrives exactly once when the peer is back.

The retry timing is the server's own (first retry ``1**4 + 15`` s plus jitter after the
failure, retry.py); the test waits for it rather than shortening it.
"""

from __future__ import annotations

import json

import pytest

from .harness import Instance, wait_until
from .test_federation_e2e import Row, db_row, db_rows, follow_state, note_on, post

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RETRY_TIMEOUT_SECONDS = 90.0


def delivery_jobs(a: Instance, note_uri: str) -> list[Row]:
    return db_rows(
        a,
        "SELECT * FROM jobs WHERE kind = 'deliver' AND dedupe_key LIKE ?",
        (f"deliver:{note_uri}/activity:%",),
    )


def rescheduled(job: Row) -> bool:
    return job["state"] == "pending" and job["attempts"] >= 1 and bool(job["last_error"])


def test_post_made_while_peer_is_down_arrives_once_after_sender_crash(
    two_instances: tuple[Instance, Instance],
) -> None:
    a, b = two_instances
    bob, ai = b.actor_url("bob"), a.actor_url("ai")
    # Given bob@b.test follows ai@a.test
    b.cli("user", "add", "bob")
    b.cli("follow", "--as", "bob", a.handle("ai"))
    wait_until(
        lambda: follow_state(b, bob, ai) == "accepted",
        message="bob's follow of ai@a.test was never accepted",
    )

    # When B is down and ai posts, A's delivery to B fails and is rescheduled
    b.stop()
    uri = post(a, "ai", "Posted while b.test was down")
    jobs = wait_until(
        lambda: (found := delivery_jobs(a, uri)) and all(map(rescheduled, found)) and found,
        timeout=30,
        message="A never rescheduled its delivery to the stopped B",
    )
    assert [json.loads(job["payload"])["inbox"] for job in jobs] == ["https://b.test/inbox"]
    job = jobs[0]
    assert job["attempts"] == 1
    assert 15 <= job["run_after"] - job["updated_at"] <= 25  # the retry policy's first delay

    # And A crashes with the retry still pending, then B comes back
    a.kill9()
    a.start()
    # The retry survived the crash: still waiting, or already claimed by the restarted worker
    # when the restart took longer than the retry's delay (a loaded machine), never lost.
    assert [job["state"] for job in delivery_jobs(a, uri)] in (["pending"], ["running"])
    assert note_on(b, uri) is None
    b.start()

    # Then the retry after A's restart delivers the post, once
    wait_until(
        lambda: note_on(b, uri),
        timeout=RETRY_TIMEOUT_SECONDS,
        message="the post made while B was down never arrived after A's restart",
    )
    done = wait_until(
        lambda: (found := delivery_jobs(a, uri)) and found[0]["state"] == "done" and found[0],
        message="A never marked the delivery done",
    )
    assert done["attempts"] >= 2
    assert len(db_rows(b, "SELECT id FROM notes WHERE uri = ?", (uri,))) == 1
    creates = db_rows(b, "SELECT uri FROM activities WHERE object_uri = ?", (uri,))
    assert creates == [{"uri": f"{uri}/activity"}]
    assert db_row(b, "SELECT visibility FROM notes WHERE uri = ?", (uri,)) == {
        "visibility": "public"
    }
