"""What the client API's streams hear of likes, boosts, follows and polls' ends, said where
they are stored.

Every path that records one (the worker's inbox handlers for a peer's ``Like``, ``Announce``
and ``Follow``, the local actions of the web UI and the apps, which share
:mod:`.interactions`) calls these after the row is written and only when it was new, so a
redelivered activity streams nothing twice. The stream then reads the notification back as
the REST endpoint lists it (same id, same filters), so what is said here is only where to look.
"""

from __future__ import annotations

from ..models import Follow, Note
from ..state import State
from ..storage import client_api
from ..streams import Boost, Notice


def liked(state: State, note: Note, actor_id: int, *, at: float) -> None:
    """A favourite (or emoji reaction) of ``note`` stored at ``at``."""
    if actor_id != note.actor_id:
        state.streams.notify(Notice(note.actor_id, "like", actor_id, note.id, at))


def followed(state: State, follow: Follow, *, at: float) -> None:
    """A follow (or a request, while pending) stored at ``at``; a repeated Follow keeps its
    first time, so the stream finds no new notification at ``at`` and shows nothing."""
    state.streams.notify(
        Notice(
            follow.followee_id,
            "follow" if follow.state == "accepted" else "follow_request",
            follow.follower_id,
            None,
            at,
        )
    )


def poll_closed(state: State, note: Note, voter_ids: list[int], *, at: float) -> None:
    """Our poll closed at ``at``: its author and the local voters are told."""
    for recipient in {note.actor_id, *voter_ids}:
        state.streams.notify(Notice(recipient, "poll", note.actor_id, note.id, at))


async def boost_of(state: State, note: Note, actor_id: int) -> Boost | None:
    """The stored boost of ``note`` by ``actor_id``, when a stream is open to hear of it."""
    if not state.streams.listeners:
        return None  # no stream open: not even the lookup of the announce's id
    found = await client_api.announce_of(state.db, actor_id, note.id)
    return Boost(found.id, found.actor_id, found.published) if found is not None else None


async def boosted(state: State, note: Note, actor_id: int) -> None:
    """A boost stored: the author's ``reblog`` notification and the boosters' followers' home
    streams both come from this one event."""
    if (boost := await boost_of(state, note, actor_id)) is not None:
        state.streams.publish("boost", note, boost)


def unboosted(state: State, note: Note, boost: Boost | None) -> None:
    """A boost undone (``boost``: as :func:`boost_of` read it before the row went): the home
    streams that showed it get its ``delete``."""
    if boost is not None:
        state.streams.publish("unboost", note, boost)
