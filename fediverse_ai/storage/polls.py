"""Polls: their options and counts, and the votes we count (on our polls) or cast (ours).

Counts of our own polls are always recounted from ``poll_votes``, so a vote delivered twice
or a job run twice cannot move them; a remote poll's counts are what its author last sent,
nudged by our own users' votes until the author's next Update says otherwise.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..as2_poll import IncomingPoll, PollState
from ..errors import BadRequest, Forbidden
from ..models import NewPoll
from . import jobs
from .db import Database

CLOSE_JOB = "poll_close"
UPDATE_JOB = "poll_update"


@dataclass(frozen=True)
class Poll:
    note_id: int
    multiple: bool
    options: tuple[tuple[str, int], ...]  # (title, votes) by position
    end_time: float | None
    closed_at: float | None
    voters_count: int | None

    def is_open(self, now: float) -> bool:
        """Votes are taken until it is closed or its end time has come."""
        return self.closed_at is None and (self.end_time is None or now < self.end_time)

    @property
    def votes_total(self) -> int:
        return sum(votes for _, votes in self.options)

    def as_state(self) -> PollState:
        return PollState(
            multiple=self.multiple,
            options=self.options,
            end_time=self.end_time,
            closed_at=self.closed_at,
            voters_count=self.voters_count or 0,
        )


def _insert_options(
    conn: sqlite3.Connection, note_id: int, options: Sequence[tuple[str, int]]
) -> None:
    conn.executemany(
        "INSERT INTO poll_options (note_id, position, name, votes) VALUES (?, ?, ?, ?)",
        [(note_id, i, name, votes) for i, (name, votes) in enumerate(options)],
    )


def insert_local_in(conn: sqlite3.Connection, note_id: int, poll: NewPoll, *, now: float) -> None:
    """A new poll of ours, with the job that closes it, inside the transaction that inserts
    its note: a poll never exists without its close."""
    end_time = now + poll.duration
    conn.execute(
        "INSERT INTO polls (note_id, multiple, end_time, closed_at, voters_count, updated_at)"
        " VALUES (?, ?, ?, NULL, 0, ?)",
        (note_id, int(poll.multiple), end_time, now),
    )
    _insert_options(conn, note_id, [(t.strip(), 0) for t in poll.titles])
    _queue_close(conn, note_id, end_time, now=now)


def _queue_close(conn: sqlite3.Connection, note_id: int, end_time: float, *, now: float) -> None:
    # The key names the end time: an edit that moves the end queues its own close, and the
    # close job leaves alone a poll whose end has moved past it (:func:`close`).
    first = conn.execute(
        "SELECT 1 FROM jobs WHERE dedupe_key = ?", (f"poll-close:{note_id}",)
    ).fetchone()
    key = f"poll-close:{note_id}" if first is None else f"poll-close:{note_id}:{end_time!r}"
    jobs.enqueue_in(
        conn, CLOSE_JOB, {"note_id": note_id}, now=now, dedupe_key=key, run_after=end_time
    )


def replace_local_in(
    conn: sqlite3.Connection, note_id: int, poll: NewPoll | None, *, now: float
) -> bool:
    """An edit's poll of our own note (Mastodon's rules): None removes it; other options or
    another ``multiple`` reset every vote; the same ones keep them. Either way the poll runs
    ``duration`` from now, open again. True when votes were reset (or the poll went)."""
    found = conn.execute("SELECT multiple FROM polls WHERE note_id = ?", (note_id,)).fetchone()
    if poll is None:
        conn.execute("DELETE FROM polls WHERE note_id = ?", (note_id,))
        return found is not None
    if found is None:
        insert_local_in(conn, note_id, poll, now=now)
        return False
    titles = [t.strip() for t in poll.titles]
    known = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM poll_options WHERE note_id = ? ORDER BY position", (note_id,)
        )
    ]
    reset = known != titles or bool(found[0]) != poll.multiple
    if reset:
        conn.execute("DELETE FROM poll_votes WHERE note_id = ?", (note_id,))
        conn.execute("DELETE FROM poll_options WHERE note_id = ?", (note_id,))
        _insert_options(conn, note_id, [(t, 0) for t in titles])
    end_time = now + poll.duration
    conn.execute(
        "UPDATE polls SET multiple = ?, end_time = ?, closed_at = NULL, updated_at = ?"
        " WHERE note_id = ?",
        (int(poll.multiple), end_time, now, note_id),
    )
    recount_in(conn, note_id, now=now)
    _queue_close(conn, note_id, end_time, now=now)
    return reset


def store_remote_in(
    conn: sqlite3.Connection, note_id: int, poll: IncomingPoll, *, now: float
) -> None:
    """A remote poll as its author sent it (Create or Update).

    Same options: the counts, end and close are refreshed. Different options: the poll was
    edited into another one, so the old options and every vote on them go (as Mastodon
    does); our users may then vote again.
    """
    closed = poll.closed if poll.closed is not None else (now if poll.closed_flag else None)
    known = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM poll_options WHERE note_id = ? ORDER BY position", (note_id,)
        )
    ]
    conn.execute(
        "INSERT INTO polls (note_id, multiple, end_time, closed_at, voters_count, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(note_id) DO UPDATE SET"
        " multiple = excluded.multiple, end_time = excluded.end_time,"
        " closed_at = COALESCE(polls.closed_at, excluded.closed_at),"
        " voters_count = excluded.voters_count, updated_at = excluded.updated_at",
        (note_id, int(poll.multiple), poll.end_time, closed, poll.voters_count, now),
    )
    if known == [name for name, _ in poll.options]:
        conn.executemany(
            "UPDATE poll_options SET votes = ? WHERE note_id = ? AND position = ?",
            [(votes, note_id, i) for i, (_, votes) in enumerate(poll.options)],
        )
        return
    conn.execute("DELETE FROM poll_votes WHERE note_id = ?", (note_id,))
    conn.execute("DELETE FROM poll_options WHERE note_id = ?", (note_id,))
    _insert_options(conn, note_id, poll.options)


def sync_remote_in(
    conn: sqlite3.Connection, note_id: int, poll: IncomingPoll | None, *, now: float
) -> None:
    """A remote note's poll after its Create or Update; an Update without one drops it."""
    if poll is not None:
        store_remote_in(conn, note_id, poll, now=now)
    else:
        conn.execute("DELETE FROM polls WHERE note_id = ?", (note_id,))


async def for_notes(db: Database, note_ids: Sequence[int]) -> dict[int, Poll]:
    """The polls of these notes (those that have one), options in order."""
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    rows = await db.fetchall(
        "SELECT note_id, multiple, end_time, closed_at, voters_count FROM polls"
        f" WHERE note_id IN ({marks})",
        tuple(note_ids),
    )
    options: dict[int, list[tuple[str, int]]] = {}
    for r in await db.fetchall(
        f"SELECT note_id, name, votes FROM poll_options WHERE note_id IN ({marks})"
        " ORDER BY note_id, position",
        tuple(note_ids),
    ):
        options.setdefault(r[0], []).append((r[1], r[2]))
    return {
        r[0]: Poll(
            note_id=r[0],
            multiple=bool(r[1]),
            options=tuple(options.get(r[0], ())),
            end_time=r[2],
            closed_at=r[3],
            voters_count=r[4],
        )
        for r in rows
    }


async def by_note(db: Database, note_id: int) -> Poll | None:
    return (await for_notes(db, [note_id])).get(note_id)


async def choices_of(db: Database, voter_id: int, note_ids: Sequence[int]) -> dict[int, set[int]]:
    """The positions ``voter_id`` chose, per poll: shown as theirs, and no second vote."""
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    out: dict[int, set[int]] = {}
    for r in await db.fetchall(
        f"SELECT note_id, position FROM poll_votes WHERE voter_id = ? AND note_id IN ({marks})",
        (voter_id, *note_ids),
    ):
        out.setdefault(r[0], set()).add(r[1])
    return out


async def record_votes(
    db: Database,
    note_id: int,
    *,
    voter_id: int,
    positions: Sequence[int],
    uri: str | None,
    counted_here: bool,
    all_at_once: bool,
    now: float,
    then: Callable[[sqlite3.Connection, list[int]], None] | None = None,
) -> list[int]:
    """Record choices; returns the positions newly recorded (none for a repeat).

    ``counted_here``: our poll, recounted from the votes. ``all_at_once``: the choices of
    one web form, refused when the voter already voted; a remote vote comes one choice per
    Create, so only its single-choice rule (one choice per voter) applies. ``then`` runs in
    the same transaction with the new positions (the vote's deliveries: queued with it or not
    at all).
    """

    def work(conn: sqlite3.Connection) -> list[int]:
        row = conn.execute(
            "SELECT multiple, end_time, closed_at FROM polls WHERE note_id = ?", (note_id,)
        ).fetchone()
        if row is None:
            raise BadRequest("that post has no poll")
        multiple, end_time, closed_at = bool(row[0]), row[1], row[2]
        if closed_at is not None or (end_time is not None and now >= end_time):
            raise Forbidden("this poll has closed")
        count = conn.execute(
            "SELECT COUNT(*) FROM poll_options WHERE note_id = ?", (note_id,)
        ).fetchone()[0]
        wanted = sorted(set(positions))
        if not wanted or any(not 0 <= p < count for p in wanted):
            raise BadRequest("no such option in this poll")
        if not multiple and len(wanted) > 1:
            raise BadRequest("this poll takes one choice")
        before = {
            r[0]
            for r in conn.execute(
                "SELECT position FROM poll_votes WHERE note_id = ? AND voter_id = ?",
                (note_id, voter_id),
            )
        }
        if before and (all_at_once or not multiple):
            if set(wanted) <= before:
                return []  # the same vote again
            raise Forbidden("you have already voted in this poll")
        new = [p for p in wanted if p not in before]
        conn.executemany(
            "INSERT INTO poll_votes (note_id, voter_id, position, uri, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(note_id, voter_id, p, uri, now) for p in new],
        )
        if counted_here:
            recount_in(conn, note_id, now=now)
        else:
            conn.executemany(
                "UPDATE poll_options SET votes = votes + 1 WHERE note_id = ? AND position = ?",
                [(note_id, p) for p in new],
            )
            if not before:
                conn.execute(
                    "UPDATE polls SET voters_count = voters_count + 1 WHERE note_id = ?"
                    " AND voters_count IS NOT NULL",
                    (note_id,),
                )
        if then is not None and new:
            then(conn, new)
        return new

    return await db.transaction(work)


def recount_in(conn: sqlite3.Connection, note_id: int, *, now: float) -> None:
    conn.execute(
        "UPDATE poll_options SET votes = (SELECT COUNT(*) FROM poll_votes v"
        " WHERE v.note_id = poll_options.note_id AND v.position = poll_options.position)"
        " WHERE note_id = ?",
        (note_id,),
    )
    conn.execute(
        "UPDATE polls SET voters_count = (SELECT COUNT(DISTINCT voter_id) FROM poll_votes"
        " WHERE note_id = ?), updated_at = ? WHERE note_id = ?",
        (note_id, now, note_id),
    )


async def close(db: Database, note_id: int, *, now: float) -> float | None:
    """Close our poll at its end (the close job): later votes are refused. Its ``closed_at``;
    None when its end is still to come (an edit moved it: that edit queued the close that
    counts) or the poll is gone."""

    def work(conn: sqlite3.Connection) -> float | None:
        conn.execute(
            "UPDATE polls SET closed_at = COALESCE(closed_at, ?), updated_at = ?"
            " WHERE note_id = ? AND (end_time IS NULL OR end_time <= ?)",
            (now, now, note_id, now + 1.0),
        )
        row = conn.execute("SELECT closed_at FROM polls WHERE note_id = ?", (note_id,)).fetchone()
        return float(row[0]) if row is not None and row[0] is not None else None

    return await db.transaction(work)


async def local_voter_ids(db: Database, note_id: int) -> list[int]:
    """Our users who voted in the poll: its close notifies them."""
    rows = await db.fetchall(
        "SELECT DISTINCT v.voter_id FROM poll_votes v JOIN actors a ON a.id = v.voter_id"
        " WHERE v.note_id = ? AND a.local = 1",
        (note_id,),
    )
    return [int(r[0]) for r in rows]


async def voter_inboxes(db: Database, note_id: int) -> list[str]:
    """The remote voters' inboxes: they get the results too, whoever else follows."""
    rows = await db.fetchall(
        "SELECT DISTINCT COALESCE(a.shared_inbox, a.inbox) FROM poll_votes v"
        " JOIN actors a ON a.id = v.voter_id WHERE v.note_id = ? AND a.local = 0",
        (note_id,),
    )
    return [r[0] for r in rows if r[0]]
