"""Polls in AS2, both ways: a ``Question``'s options and counts, and a vote (a ``Note`` with
``name``), parsed from remote JSON and built for ours. Pure: no storage, no network.

Mastodon's shape is the one everyone speaks: ``oneOf`` (one choice) or ``anyOf`` (several)
lists ``Note``-like options, each with ``name`` and ``replies.totalItems``; ``endTime``,
``closed`` and ``votersCount`` (``toot:``) sit on the Question. A vote is a ``Create`` of a
``Note`` whose ``name`` is the option's title and whose ``inReplyTo`` is the Question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .vocab import as_list, format_time, id_of, parse_time, str_or_none, type_of

#: Caps on what a remote poll may hold; a poll past them is not taken as a poll at all, since
#: a cut-down list of options would misstate the results.
MAX_OPTIONS = 20
MAX_OPTION_CHARS = 200
#: Counts beyond this are nonsense (no server has that many voters): clamped, not trusted.
MAX_COUNT = 10**9

__all__ = [
    "MAX_OPTIONS",
    "MAX_OPTION_CHARS",
    "IncomingPoll",
    "IncomingVote",
    "PollState",
    "parse_poll",
    "parse_vote",
    "question_fields",
    "vote_note",
]


@dataclass(frozen=True)
class IncomingPoll:
    """A remote ``Question``'s poll, capped and cleaned."""

    multiple: bool
    options: tuple[tuple[str, int], ...]  # (title, votes) in the author's order
    end_time: float | None
    closed: float | None  # when the author says it closed (``closed: true`` with no time: now)
    closed_flag: bool
    voters_count: int | None


@dataclass(frozen=True)
class IncomingVote:
    """A vote as it arrives: who, on which Question, for which option (by title)."""

    uri: str
    attributed_to: str
    question: str
    choice: str


@dataclass(frozen=True)
class PollState:
    """What an outgoing ``Question`` says about its poll."""

    multiple: bool
    options: Sequence[tuple[str, int]]
    end_time: float | None
    closed_at: float | None
    voters_count: int


def _count(value: Any) -> int:
    """A count from the network: a non-negative int (bools, floats, strings and negatives: 0)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return min(value, MAX_COUNT)


def _title(value: Any) -> str | None:
    text = str_or_none(value)
    if text is None:
        return None
    text = " ".join(text.split())
    return text[:MAX_OPTION_CHARS] or None


def parse_poll(obj: Any) -> IncomingPoll | None:
    """The poll of a ``Question`` object; None when it is not one, or not a sane one."""
    if not isinstance(obj, dict) or type_of(obj) != "Question":
        return None
    one_of, any_of = obj.get("oneOf"), obj.get("anyOf")
    multiple = one_of is None and any_of is not None
    items = as_list(any_of if multiple else one_of)
    if not 1 <= len(items) <= MAX_OPTIONS:
        return None
    options: list[tuple[str, int]] = []
    for item in items:
        if not isinstance(item, dict) or (title := _title(item.get("name"))) is None:
            return None
        replies = item.get("replies")
        votes = _count(replies.get("totalItems")) if isinstance(replies, dict) else 0
        if any(title == seen for seen, _ in options):
            return None  # votes name their option: two of one name could not be told apart
        options.append((title, votes))
    closed_value = obj.get("closed")
    closed_flag = closed_value is True or isinstance(closed_value, str)
    voters = obj.get("votersCount")
    return IncomingPoll(
        multiple=multiple,
        options=tuple(options),
        end_time=parse_time(obj.get("endTime")),
        closed=parse_time(closed_value),
        closed_flag=closed_flag,
        voters_count=_count(voters) if voters is not None else None,
    )


def parse_vote(obj: Any) -> IncomingVote | None:
    """A vote, when ``obj`` has a vote's shape: a Note with ``name`` and ``inReplyTo`` and
    no content (Mastodon's test too); anything else is an ordinary post."""
    if not isinstance(obj, dict) or type_of(obj) != "Note":
        return None
    name = _title(obj.get("name"))
    question = id_of(obj.get("inReplyTo"))
    uri = str_or_none(obj.get("id"))
    author = id_of(obj.get("attributedTo"))
    if name is None or question is None or uri is None or author is None:
        return None
    if str_or_none(obj.get("content")):
        return None
    return IncomingVote(uri=uri[:2000], attributed_to=author, question=question, choice=name)


def question_fields(poll: PollState, *, replies_of: str) -> dict[str, Any]:
    """What turns one of our ``Note`` objects into a ``Question`` (merged over it)."""
    options = [
        {
            "type": "Note",
            "name": title,
            "replies": {
                "type": "Collection",
                "id": f"{replies_of}#option-{position}",
                "totalItems": votes,
            },
        }
        for position, (title, votes) in enumerate(poll.options)
    ]
    fields: dict[str, Any] = {
        "type": "Question",
        "anyOf" if poll.multiple else "oneOf": options,
        "votersCount": poll.voters_count,
    }
    if poll.end_time is not None:
        fields["endTime"] = format_time(poll.end_time)
    if poll.closed_at is not None:
        fields["closed"] = format_time(poll.closed_at)
    return fields


def vote_note(
    *, vote_id: str, voter: str, question: str, author: str, choice: str
) -> dict[str, Any]:
    """One choice of one of our users, as the ``Note`` Mastodon expects: addressed to the
    poll's author only, so a vote is never seen by anyone else."""
    return {
        "id": vote_id,
        "type": "Note",
        "name": choice,
        "attributedTo": voter,
        "to": [author],
        "inReplyTo": question,
    }
