"""Polls over the wire: a peer's ``Question`` stored and rendered, refreshed by its Update,
hostile ones refused or capped; votes on our polls counted once, the results' Update sent
once per burst, and the close sent at ``endTime``.

Given our server and a signed peer, both real HTTP servers on loopback, when the peer posts
Questions and votes and the worker drains (its clock moved on where time must pass), then
the database, our pages and what the peer receives say what Mastodon would.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse

from fediverse_ai.federation import polls as poll_jobs
from fediverse_ai.federation import publish
from fediverse_ai.models import Draft, NewPoll, Note
from fediverse_ai.storage import notes, polls
from fediverse_ai.vocab import format_time

HOUR = 3600.0


def question(
    remote: RemoteFediverse,
    options: list[Any],
    *,
    multiple: bool = False,
    voters: Any = None,
    end: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Question by bob, as Mastodon serialises one."""
    choices = [
        o
        if isinstance(o, dict)
        else {"type": "Note", "name": o[0], "replies": {"type": "Collection", "totalItems": o[1]}}
        for o in options
    ]
    fields: dict[str, Any] = {"type": "Question", ("anyOf" if multiple else "oneOf"): choices}
    if voters is not None:
        fields["votersCount"] = voters
    fields["endTime"] = format_time(end if end is not None else time.time() + 2 * HOUR)
    return remote.note("bob", "<p>Which one?</p>", to=[PUBLIC], **{**fields, **extra})


async def send(live: LiveServer, remote: RemoteFediverse, activity: dict[str, Any]) -> None:
    response = await remote.send(live.shared_inbox, activity)
    assert response.status_code == 202, response.text
    await live.drain()


async def stored(live: LiveServer, uri: str) -> Note:
    note = await notes.by_uri(live.state.db, uri)
    assert note is not None, uri
    return note


async def page(live: LiveServer, note: Note) -> str:
    async with httpx.AsyncClient(base_url=live.base_url, trust_env=False) as client:
        resp = await client.get(f"/notes/{note.id}", headers={"Accept": "text/html"})
    assert resp.status_code == 200
    return resp.text


async def test_a_peers_question_is_rendered_with_bars_and_percentages(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    q = question(remote, [("tea", 3), ("coffee", 1)], voters=4)
    await send(live, remote, remote.activity("bob", "Create", q))
    note = await stored(live, q["id"])
    poll = await polls.by_note(live.state.db, note.id)
    assert poll is not None and not poll.multiple
    assert poll.options == (("tea", 3), ("coffee", 1)) and poll.voters_count == 4
    shown = await page(live, note)
    assert 'value="75"' in shown and "25%" in shown and "4 people voted" in shown
    assert "closes in 1 hour" in shown or "closes in 2 hours" in shown


async def test_an_update_refreshes_the_counts_and_closes_it(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    q = question(remote, [("tea", 1), ("coffee", 1)], multiple=True, voters=1)
    await send(live, remote, remote.activity("bob", "Create", q))
    later = {**q, "anyOf": [{**o} for o in q["anyOf"]], "votersCount": 3}
    later["anyOf"][0]["replies"] = {"type": "Collection", "totalItems": 3}
    later["closed"] = format_time(time.time())
    await send(live, remote, remote.activity("bob", "Update", later))
    note = await stored(live, q["id"])
    poll = await polls.by_note(live.state.db, note.id)
    assert poll is not None and poll.options == (("tea", 3), ("coffee", 1))
    assert poll.voters_count == 3 and poll.closed_at is not None
    shown = await page(live, note)
    # Several choices: percentages are of the voters (3 of 3 chose tea).
    assert "100%" in shown and "33%" in shown and "closed" in shown
    # Someone else's Update moves nothing.
    forged = {**later, "votersCount": 99}
    response = await remote.send(live.shared_inbox, remote.activity("alice", "Update", forged))
    assert response.status_code == 403
    await live.drain()
    poll = await polls.by_note(live.state.db, note.id)
    assert poll is not None and poll.voters_count == 3


async def test_an_update_with_other_options_replaces_them(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    q = question(remote, [("tea", 1), ("coffee", 1)])
    await send(live, remote, remote.activity("bob", "Create", q))
    edited = {**q, "oneOf": [{"type": "Note", "name": "water", "replies": {"totalItems": 0}}]}
    edited["oneOf"].append({"type": "Note", "name": "juice"})
    await send(live, remote, remote.activity("bob", "Update", edited))
    poll = await polls.by_note(live.state.db, (await stored(live, q["id"])).id)
    assert poll is not None and poll.options == (("water", 0), ("juice", 0))


async def test_hostile_questions_are_refused_or_capped_cleanly(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    many = question(remote, [(f"option {i}", 1) for i in range(1000)])
    junk = question(
        remote,
        [
            ("x" * 5000, -7),
            {"type": "Note", "name": "float", "replies": {"totalItems": 2.5}},
            {"type": "Note", "name": "bool", "replies": {"totalItems": True}},
            {"type": "Note", "name": "huge", "replies": {"totalItems": 10**30}},
            {"type": "Note", "name": "nested", "replies": [{"totalItems": 5}]},
        ],
        voters="lots",
        endTime={"not": "a time"},
    )
    bad_names = question(remote, [{"type": "Note", "name": {"en": "x"}}, ("fine", 1)])
    duplicated = question(remote, [("same", 1), ("same", 2)])
    deep: Any = "leaf"
    for _ in range(8):  # deeper is refused at the door (400) already
        deep = {"nested": [deep]}
    nested = question(remote, [{"type": "Note", "name": "a", "replies": deep}, ("b", 1)])
    for q in (many, junk, bad_names, duplicated, nested):
        await send(live, remote, remote.activity("bob", "Create", q))
    # A poll past the caps, or one whose options cannot be told apart, is no poll: the post
    # is still shown, without one (a cut-down list of options would misstate the results).
    for q in (many, bad_names, duplicated):
        note = await stored(live, q["id"])
        assert await polls.by_note(live.state.db, note.id) is None
        await page(live, note)
    poll = await polls.by_note(live.state.db, (await stored(live, junk["id"])).id)
    assert poll is not None
    assert poll.options == (
        ("x" * 200, 0),
        ("float", 0),
        ("bool", 0),
        ("huge", 10**9),
        ("nested", 0),
    )
    assert poll.voters_count == 0 and poll.end_time is None
    poll = await polls.by_note(live.state.db, (await stored(live, nested["id"])).id)
    assert poll is not None and poll.options == (("a", 0), ("b", 1))
    failed = await live.count("SELECT COUNT(*) FROM jobs WHERE state != 'done'")
    assert failed == 0


# --- votes on our polls ------------------------------------------------------------------------


async def our_poll(live: LiveServer, *, multiple: bool = False) -> Note:
    carol = await live.account("carol")
    return await publish.publish_note(
        live.state,
        carol,
        Draft(
            text="Best drink?",
            poll=NewPoll(titles=("tea", "coffee", "water"), multiple=multiple, duration=HOUR),
        ),
    )


def vote(
    remote: RemoteFediverse, username: str, poll: Note, choice: str, **extra: Any
) -> dict[str, Any]:
    obj = {
        "id": f"{remote.actor_uri(username)}#votes/{choice}-{time.monotonic_ns()}",
        "type": "Note",
        "name": choice,
        "attributedTo": remote.actor_uri(username),
        "to": [poll.uri.rsplit("/statuses/", 1)[0]],
        "inReplyTo": poll.uri,
        **extra,
    }
    return remote.activity(username, "Create", obj)


async def follow_carol(live: LiveServer, remote: RemoteFediverse) -> None:
    carol = await live.account("carol")
    await send(live, remote, remote.activity("bob", "Follow", carol.actor.uri))


def later(live: LiveServer, seconds: float) -> None:
    """Move the worker's clock on (the web server's stays on real time)."""
    live.state.clock = lambda: time.time() + seconds


async def test_votes_on_our_poll_are_counted_once_and_never_stored_as_posts(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    poll_note = await our_poll(live)
    other = await our_poll(live)
    before = await live.count("SELECT COUNT(*) FROM notes")
    first = vote(remote, "alice", poll_note, "tea")
    await send(live, remote, first)
    await send(live, remote, first)  # delivered twice
    await send(live, remote, vote(remote, "alice", poll_note, "tea"))  # the same choice again
    await send(live, remote, vote(remote, "alice", poll_note, "coffee"))  # one choice only
    await send(live, remote, vote(remote, "bob", poll_note, "lemonade"))  # no such option
    await send(live, remote, vote(remote, "bob", other, "coffee"))  # counted on its own poll
    forged = vote(remote, "bob", poll_note, "water")
    forged["object"]["attributedTo"] = remote.actor_uri("alice")  # bob votes in alice's name
    assert (await remote.send(live.shared_inbox, forged)).status_code == 403
    poll = await polls.by_note(live.state.db, poll_note.id)
    assert poll is not None and poll.options == (("tea", 1), ("coffee", 0), ("water", 0))
    assert poll.voters_count == 1
    theirs = await polls.by_note(live.state.db, other.id)
    assert theirs is not None and theirs.options[1] == ("coffee", 1)
    assert await live.count("SELECT COUNT(*) FROM notes") == before
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE state = 'failed'") == 0


async def test_several_choices_count_one_vote_per_option(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    poll_note = await our_poll(live, multiple=True)
    for choice in ("tea", "water", "tea"):
        await send(live, remote, vote(remote, "alice", poll_note, choice))
    poll = await polls.by_note(live.state.db, poll_note.id)
    assert poll is not None and poll.options == (("tea", 1), ("coffee", 0), ("water", 1))
    assert poll.voters_count == 1


async def test_a_burst_of_votes_gives_one_update_and_the_close_another(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    await follow_carol(live, remote)
    poll_note = await our_poll(live, multiple=True)
    await live.drain()
    create = [p for p in remote.posts(type="Create") if p.activity]
    assert create and create[-1].activity["object"]["type"] == "Question"  # type: ignore[index]
    await send(live, remote, vote(remote, "alice", poll_note, "tea"))
    await send(live, remote, vote(remote, "bob", poll_note, "water"))
    assert remote.posts(type="Update") == []  # not before the window ends
    later(live, 120)
    await live.drain()
    await live.drain()  # running due jobs again sends nothing new
    updates = remote.posts(type="Update")
    # bob follows carol and voted: one Update to the shared inbox both use.
    assert len(updates) == 1 and updates[0].verified
    obj = updates[0].activity["object"]  # type: ignore[index]
    assert obj["type"] == "Question" and obj["votersCount"] == 2
    assert [o["replies"]["totalItems"] for o in obj["anyOf"]] == [1, 0, 1]
    assert "closed" not in obj
    # At endTime the poll closes and the final results go out; later votes are refused.
    later(live, HOUR + 60)
    await live.drain()
    await poll_jobs.close(live.state, {"note_id": poll_note.id})  # the close job run twice
    await live.drain()
    closing = remote.posts(type="Update")[1:]
    assert len(closing) == 1
    final = closing[0].activity["object"]  # type: ignore[index]
    assert final["closed"] and final["votersCount"] == 2
    await send(live, remote, vote(remote, "alice", poll_note, "coffee"))  # open, it would count
    poll = await polls.by_note(live.state.db, poll_note.id)
    assert poll is not None and poll.closed_at is not None and poll.options[1] == ("coffee", 0)
    # And what we serve for it says so too.
    served = (await live.get_as2(poll_note.uri)).json()
    assert served["type"] == "Question" and served["closed"] and served["endTime"]
