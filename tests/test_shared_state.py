"""State that several processes share (issue 15 item 2), on both stores: two ``Database`` or
``State`` objects on one database stand for two processes (a web process and a worker, or two
workers), each with its own per-process memos.

What is checked here: the domain circuit counts the failures of every process (a failure is
``failures + 1`` in SQL, not a count written from a memo), an open circuit another process has
closed lets deliveries through, a key that another process refetched after a rotation is used at
once everywhere, and token buckets and the AI's budget give out no more than they hold when
processes take at once (on PostgreSQL a plain read locks nothing). The API counts, the login
limiter across real processes and the AI slots have tests of their own
(test_shared_limits.py, test_processes_share_limits.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.keys import generate_rsa_key
from support.live import LiveServer, live_server
from support.remote import RemoteFediverse
from support.sinks import InboxSink

from fediverse_ai.errors import DeliveryError
from fediverse_ai.federation import delivery, signer_keys
from fediverse_ai.memo import Memo
from fediverse_ai.models import Account
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import ai_replies, domains
from fediverse_ai.storage.store import open_store

T0 = 1_700_000_000.0


async def test_failures_of_two_processes_add_up_and_open_the_circuit(store: Path | str) -> None:
    async with open_store(store) as one, open_store(store) as two:
        await one.migrate()
        counted = await asyncio.gather(
            *(
                domains.record_failure(one if i % 2 else two, "down.example", now=T0)
                for i in range(10)
            )
        )
        # Each failure got a count of its own: none was written over by the other process.
        assert sorted(n for n, _ in counted) == list(range(1, 11))
        failures_now, open_until = await domains.get(one, "down.example")
        assert failures_now == 10
        assert open_until is not None and open_until > T0
        # The circuit opened at the fifth failure, whichever process made it.
        assert [until is not None for _, until in sorted(counted)] == [False] * 4 + [True] * 6
        await domains.record_success(two, "down.example", now=T0)
        assert await domains.get(one, "down.example") == (0, None)


@pytest.fixture
async def live_on_store(store: Path | str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(tmp_path / "ours", database=store) as server:
        yield server


@pytest.fixture
async def other_process(live_on_store: LiveServer) -> AsyncIterator[State]:
    """A second process on the same database and config (a worker beside the web process)."""
    async with open_state(live_on_store.config) as state:
        yield state


@pytest.fixture
async def sink() -> AsyncIterator[InboxSink]:
    inboxes = InboxSink()
    await inboxes.start()
    try:
        yield inboxes
    finally:
        await inboxes.stop()


def delivery_of(account: Account, sink: InboxSink) -> dict[str, Any]:
    """A delivery job's payload: a signed Like from ``account`` to one of the sink's inboxes."""
    like = {
        "id": f"{account.actor.uri}#likes/1",
        "type": "Like",
        "actor": account.actor.uri,
        "object": "https://elsewhere.example/notes/1",
    }
    return {"inbox": sink.inbox("f0"), "actor_id": account.actor.id, "body": json.dumps(like)}


@pytest.fixture
async def two_senders(
    live_on_store: LiveServer, other_process: State, sink: InboxSink
) -> tuple[State, State, dict[str, Any]]:
    """The web process, a worker, and a delivery from carol to the sink (failing: 503)."""
    web, worker = live_on_store.state, other_process
    for state in (web, worker):
        # Memos normally live a few seconds; here they must not expire while the test runs,
        # so that what each process remembers is what the test set up, however slow the machine.
        state.circuits = Memo(3600.0)
    sink.status = 503
    return web, worker, delivery_of(await live_on_store.account("carol"), sink)


async def test_a_failure_brings_back_the_count_of_every_process(
    two_senders: tuple[State, State, dict[str, Any]], sink: InboxSink
) -> None:
    web, worker, payload = two_senders
    domain = sink.base_url.removeprefix("http://")
    for state in (web, worker, web, worker):
        with pytest.raises(DeliveryError):
            await delivery.deliver(state, payload)
    assert await domains.get(web.db, domain) == (4, None)
    assert worker.circuits.get(domain) == (4, None)  # not the 2 it made itself
    with pytest.raises(DeliveryError):
        await delivery.deliver(web, payload)
    failures, open_until = await domains.get(web.db, domain)
    assert failures == 5 and open_until is not None
    assert web.circuits.get(domain) == (5, open_until)
    # The worker's memo still says closed: it tries once, fails, and learns it is open.
    with pytest.raises(DeliveryError):
        await delivery.deliver(worker, payload)
    health = worker.circuits.get(domain)
    assert health is not None and health[0] == 6 and health[1] is not None
    received = len(sink.received)
    with pytest.raises(delivery.CircuitOpen):
        await delivery.deliver(worker, payload)
    assert len(sink.received) == received  # held back without a request


async def test_a_circuit_another_process_closed_lets_deliveries_through(
    two_senders: tuple[State, State, dict[str, Any]], sink: InboxSink
) -> None:
    web, worker, payload = two_senders
    with pytest.raises(DeliveryError):
        await delivery.deliver(worker, payload)  # the worker remembers one failure, closed
    for _ in range(4):
        with pytest.raises(DeliveryError):
            await delivery.deliver(web, payload)
    with pytest.raises(delivery.CircuitOpen):
        await delivery.deliver(web, payload)  # open for the web process
    # The worker's delivery started before it opened, and gets through: the circuit closes.
    sink.status = None
    await delivery.deliver(worker, payload)
    # The web process remembers it open, reads it again, and sends.
    await delivery.deliver(web, payload)
    assert len(sink.received) == 2 and sink.errors == [] and sink.unverified() == []
    domain = sink.base_url.removeprefix("http://")
    assert await domains.get(web.db, domain) == (0, None)


async def test_a_key_rotated_and_refetched_by_one_process_is_used_at_once_by_another(
    live_on_store: LiveServer, other_process: State, remote: RemoteFediverse
) -> None:
    web, worker = live_on_store.state, other_process
    key_id, actor = remote.key_id("alice"), remote.actor_uri("alice")
    old = await signer_keys.fetch_key(web, key_id, False, actor_uri=actor)
    assert await signer_keys.fetch_key(worker, key_id, False, actor_uri=actor) == old
    fetches = len(remote.fetched)
    assert fetches >= 1
    # A forged signature with alice's key id makes the worker refetch it: unchanged, so the
    # worker does not refetch it again for a minute (signer_keys: one GET a minute at most).
    assert await signer_keys.fetch_key(worker, key_id, True, actor_uri=actor) == old
    assert len(remote.fetched) == fetches + 1
    # Alice rotates her key; her next signature reaches the web process, which refetches.
    new_private, new_public = generate_rsa_key()
    user = remote.users["alice"]
    remote.users["alice"] = dataclasses.replace(
        user, private_key_pem=new_private, public_key_pem=new_public
    )
    new = await signer_keys.fetch_key(web, key_id, True, actor_uri=actor)
    assert new.public_key_pem == new_public
    assert len(remote.fetched) == fetches + 2
    # The worker still remembers the old key and is throttled, yet gets the new one at once,
    # from the database, without a request of its own.
    assert worker.keys.get(key_id) == old
    assert await signer_keys.fetch_key(worker, key_id, True, actor_uri=actor) == new
    assert len(remote.fetched) == fetches + 2
    assert await signer_keys.fetch_key(worker, key_id, False, actor_uri=actor) == new


async def test_token_buckets_hand_out_no_more_than_their_capacity_to_three_processes(
    store: Path | str,
) -> None:
    # The login limiter, sign-ups, remote follows and the composer's limits are token buckets.
    async with open_store(store) as a, open_store(store) as b, open_store(store) as c:
        await a.migrate()
        taken = await asyncio.gather(
            *(
                ai_replies.take_token(db, "login:alice", capacity=5, per_second=0.0, now=T0)
                for _ in range(12)
                for db in (a, b, c)
            )
        )
        assert sum(taken) == 5


async def test_the_ai_budget_and_buckets_are_charged_once_per_answer_by_every_process(
    store: Path | str,
) -> None:
    buckets = [ai_replies.Bucket("account:https://x.example/u/bob", 4, 0.0, "account limit")]
    async with open_store(store) as a, open_store(store) as b, open_store(store) as c:
        await a.migrate()
        refusals = await asyncio.gather(
            *(
                ai_replies.charge(db, buckets, day="2026-12-06", budget=100, now=T0)
                for _ in range(4)
                for db in (a, b, c)
            )
        )
        assert refusals.count(None) == 4  # the bucket's four tokens, not one per process more
        used = await a.fetchval("SELECT count FROM ai_usage WHERE day = '2026-12-06'")
        assert used == 4
        budget = await asyncio.gather(
            *(
                ai_replies.charge(db, [], day="2026-12-07", budget=3, now=T0)
                for _ in range(4)
                for db in (a, b, c)
            )
        )
        assert budget.count(None) == 3
        assert await a.fetchval("SELECT count FROM ai_usage WHERE day = '2026-12-07'") == 3
