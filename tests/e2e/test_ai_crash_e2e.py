"""kill -9 in the middle of an AI generation: after a restart the author gets exactly one reply.

The server process is killed (SIGKILL) while its worker holds the reply job; the restarted
server takes the dead process's job back at once and publishes under the ids reserved
before generating, so a reply is neither lost nor doubled.
"""

from __future__ import annotations

import time

import pytest

from .harness import Instance, wait_until
from .test_federation_e2e import db_row, db_rows, wait_for_note

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def running_reply_job(a: Instance) -> bool:
    return bool(db_rows(a, "SELECT id FROM jobs WHERE kind = 'ai_reply' AND state = 'running'"))


def test_kill9_mid_generation_gives_exactly_one_reply(
    two_instances: tuple[Instance, Instance],
) -> None:
    a, b = two_instances
    # Long answers keep the generation running long enough to be interrupted.
    a.stop()
    with a.config_path.open("a", encoding="utf-8") as config:
        config.write("\n[ai.text]\nmax_tokens = 400\n")
    a.start()
    b.cli("user", "add", "dave")
    mention = b.cli(
        "post", "--as", "dave", "@ai@a.test tell me a long story about a lighthouse keeper"
    ).stdout.strip()
    wait_for_note(a, mention, "A never received the mention")
    deadline = time.monotonic() + 60
    while not running_reply_job(a):
        assert time.monotonic() < deadline, "the reply job never started"
        time.sleep(0.02)
    a.kill9()
    assert db_row(b, "SELECT id FROM notes WHERE in_reply_to_uri = ?", (mention,)) is None
    a.start()
    wait_until(
        lambda: db_row(b, "SELECT id FROM notes WHERE in_reply_to_uri = ?", (mention,)),
        timeout=120,
        message="no reply after the restart",
        instances=[a, b],
    )
    # Let the worker settle, then check nothing was published twice.
    wait_until(
        lambda: (
            db_row(a, "SELECT state FROM ai_replies WHERE mention_uri = ?", (mention,))
            == {"state": "done"}
        ),
        timeout=60,
        message="the reply was never recorded as done",
        instances=[a, b],
    )
    first_replies = db_rows(a, "SELECT uri FROM notes WHERE in_reply_to_uri = ?", (mention,))
    assert len(first_replies) == 1
    assert len(db_rows(b, "SELECT id FROM notes WHERE in_reply_to_uri = ?", (mention,))) == 1
    creates = db_rows(
        b,
        "SELECT id FROM activities WHERE type = 'Create' AND object_uri = ?",
        (first_replies[0]["uri"],),
    )
    assert len(creates) == 1
