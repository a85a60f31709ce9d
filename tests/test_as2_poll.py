"""The pure poll parsing: which shapes are a poll, which are a vote, and what we send."""

from __future__ import annotations

from typing import Any

from fediverse_ai.as2_poll import PollState, parse_poll, parse_vote, question_fields


def option(name: Any, votes: Any = 0) -> dict[str, Any]:
    return {"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": votes}}


def test_one_of_wins_over_any_of_and_closed_true_means_closed() -> None:
    poll = parse_poll(
        {"type": "Question", "oneOf": [option("a", 2)], "anyOf": [option("b")], "closed": True}
    )
    assert poll is not None and not poll.multiple and poll.options == (("a", 2),)
    assert poll.closed_flag and poll.closed is None
    assert parse_poll({"type": "Question", "closed": False, "anyOf": [option("x")]}) is not None
    assert parse_poll({"type": "Note", "oneOf": [option("a")]}) is None  # only a Question
    assert parse_poll({"type": "Question"}) is None  # no options
    assert parse_poll({"type": "Question", "oneOf": "a"}) is None
    assert parse_poll({"type": "Question", "oneOf": [option("   ")]}) is None


def test_a_vote_is_a_note_with_name_and_in_reply_to_and_no_content() -> None:
    base = {
        "id": "https://x.test/v/1",
        "type": "Note",
        "name": "tea",
        "attributedTo": "https://x.test/users/a",
        "inReplyTo": "https://ours.test/users/c/statuses/1",
    }
    vote = parse_vote(base)
    assert vote is not None and vote.choice == "tea" and vote.question == base["inReplyTo"]
    assert parse_vote({**base, "content": "<p>a reply with a title</p>"}) is None
    assert parse_vote({**base, "type": "Article"}) is None
    assert parse_vote({k: v for k, v in base.items() if k != "inReplyTo"}) is None
    assert parse_vote({**base, "name": ["tea"]}) is None
    assert parse_vote({**base, "content": ""}) is not None  # empty content is no content


def test_question_fields_name_the_options_and_the_close() -> None:
    fields = question_fields(
        PollState(multiple=True, options=[("a", 1), ("b", 0)], end_time=0.0, closed_at=60.0,
                  voters_count=1),
        replies_of="https://ours.test/n/1",
    )  # fmt: skip
    assert fields["type"] == "Question" and "oneOf" not in fields
    assert [o["replies"]["totalItems"] for o in fields["anyOf"]] == [1, 0]
    assert (
        fields["endTime"] == "1970-01-01T00:00:00Z" and fields["closed"] == "1970-01-01T00:01:00Z"
    )
