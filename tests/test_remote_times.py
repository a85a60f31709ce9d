"""Remote times beyond what Python's datetime can write must not make a poison job.

Given our server and a stand-in peer on loopback, when a note arrives whose ``published``,
``updated`` or poll ``endTime`` lies outside years 1-9999 once turned to UTC
("0001-01-01T00:00:00+01:00" is year 0), then the inbox job succeeds and the time is
treated as absent; a time at the very edge of the span is kept and written back exactly.
"""

from __future__ import annotations

import math

from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse
from test_fuzz_regressions import inbox_job_errors

from fediverse_ai.vocab import format_time, parse_time

YEAR_ZERO = "0001-01-01T00:00:00+01:00"
YEAR_10000 = "9999-12-31T23:59:59-14:00"


async def test_a_note_published_in_year_zero_is_stored_with_our_time(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    note = remote.note("alice", "<p>from before time</p>", published=YEAR_ZERO, updated=YEAR_10000)
    before = live.state.now()
    assert (
        await remote.send(live.shared_inbox, remote.activity("alice", "Create", note))
    ).status_code == 202
    await live.drain()

    assert await inbox_job_errors(live) == [None]
    row = await live.state.db.fetchone(
        "SELECT published, published_text, updated FROM notes WHERE uri = ?", (note["id"],)
    )
    assert row is not None
    assert row["published"] >= before and row["updated"] is None
    assert parse_time(row["published_text"]) == math.floor(row["published"])


async def test_an_edit_and_a_poll_with_impossible_times_do_not_fail_the_job(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    question = remote.note(
        "alice",
        "<p>which?</p>",
        type="Question",
        endTime=YEAR_10000,
        closed=YEAR_ZERO,
        oneOf=[
            {"type": "Note", "name": "yes", "replies": {"type": "Collection", "totalItems": 1}},
            {"type": "Note", "name": "no", "replies": {"type": "Collection", "totalItems": 0}},
        ],
    )
    await remote.send(live.shared_inbox, remote.activity("alice", "Create", question, to=[PUBLIC]))
    edited = {**question, "content": "<p>which one?</p>", "updated": YEAR_ZERO}
    await remote.send(live.shared_inbox, remote.activity("alice", "Update", edited, to=[PUBLIC]))
    await live.drain()

    assert await inbox_job_errors(live) == [None, None]
    row = await live.state.db.fetchone("SELECT content FROM notes WHERE uri = ?", (question["id"],))
    assert row is not None and "which one?" in row["content"]


async def test_the_first_second_of_year_one_is_kept_and_written_back(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    note = remote.note("alice", "<p>the very first</p>", published="0001-01-01T00:00:00Z")
    await remote.send(live.shared_inbox, remote.activity("alice", "Create", note))
    await live.drain()

    assert await inbox_job_errors(live) == [None]
    row = await live.state.db.fetchone(
        "SELECT published_text FROM notes WHERE uri = ?", (note["id"],)
    )
    # strftime's %Y wrote year 1 as "1", which no parser reads back.
    assert row is not None and row["published_text"] == "0001-01-01T00:00:00Z"


def test_format_time_is_total_and_parse_time_refuses_what_it_could_not_write() -> None:
    earliest, latest = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
    assert format_time(-1e300) == format_time(-math.inf) == earliest
    assert format_time(1e300) == format_time(math.inf) == latest
    assert format_time(math.nan) == "1970-01-01T00:00:00Z"
    assert format_time(1_700_000_000.9) == "2023-11-14T22:13:20Z"
    assert parse_time(YEAR_ZERO) is None and parse_time(YEAR_10000) is None
    for edge in (earliest, latest, "2023-11-14T22:13:20Z"):
        parsed = parse_time(edge)
        assert parsed is not None and format_time(parsed) == edge
