"""An inbox job whose fetch finds the object or actor gone ends at once (issue 19 item 5).

Given a peer that answers 404 or 410 for a note it announced by id, when its Create is
processed, then the inbox job fails for good on its first attempt with the status as its
reason, as a delivery to a gone inbox does; a 503 or 429 is retried instead.
"""

from __future__ import annotations

import json

import pytest
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse


async def inbox_job(live: LiveServer, activity_id: str) -> tuple[str, int, str | None]:
    rows = await live.state.db.fetchall(
        "SELECT payload, state, attempts, last_error FROM jobs WHERE kind = 'inbox'"
    )
    for row in rows:
        if json.loads(row["payload"]).get("uri") == activity_id:
            return row["state"], row["attempts"], row["last_error"]
    raise AssertionError(f"no inbox job for {activity_id}")


@pytest.mark.parametrize(
    ("status", "final_state"),
    [(404, "failed"), (410, "failed"), (503, "pending"), (429, "pending")],
)
async def test_a_gone_object_ends_the_inbox_job_and_an_unavailable_one_is_retried(
    live: LiveServer, remote: RemoteFediverse, status: int, final_state: str
) -> None:
    note_id = f"{remote.actor_uri('alice')}/statuses/{status}"
    remote.statuses[note_id.removeprefix(remote.base_url)] = status
    create = remote.activity("alice", "Create", note_id, to=[PUBLIC])
    response = await remote.send(live.shared_inbox, create)
    assert response.status_code == 202

    await live.drain()

    state, attempts, error = await inbox_job(live, create["id"])
    assert (state, attempts) == (final_state, 1)
    assert error is not None and str(status) in error
    assert await live.count("SELECT COUNT(*) FROM notes WHERE uri = ?", [note_id]) == 0
