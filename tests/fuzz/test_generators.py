"""The fuzz generators themselves: the same seed gives the same requests, and they vary.

No server here: a stand-in peer that is never started (its port set by hand) is enough to
build requests, which takes well under a second.
"""

from __future__ import annotations

import json
from collections import Counter

from support.remote import RemoteFediverse

from .activities import ACTIVITY_TYPES, ActivityFactory, Targets
from .inbox_requests import InboxRequests
from .peer import dress
from .routes import ROUTES
from .web_requests import WebRequests

BASE = "http://127.0.0.1:2"
TARGETS = Targets(
    ai=f"{BASE}/users/ai",
    user=f"{BASE}/users/carol",
    instance=f"{BASE}/actor",
    notes=(f"{BASE}/users/ai/statuses/1",),
    base_url=BASE,
)


def inbox_requests(seed: int) -> InboxRequests:
    remote = RemoteFediverse()
    remote.port = 3
    dress(remote, seed)
    return InboxRequests(seed, remote, ActivityFactory(remote, TARGETS), [f"{BASE}/inbox"] * 2)


def test_the_same_seed_builds_the_same_inbox_requests() -> None:
    first, again, other = inbox_requests(5), inbox_requests(5), inbox_requests(6)
    indices = [0, 1, 2, 17, 250, 9999]
    bodies = [first.build(i).body for i in indices]
    assert bodies == [again.build(i).body for i in reversed(indices)][::-1]
    assert bodies != [other.build(i).body for i in indices]


def test_inbox_requests_cover_every_activity_type_and_are_mostly_signed() -> None:
    requests = [inbox_requests(1).build(i) for i in range(600)]
    types: Counter[str] = Counter()
    for request in requests:
        try:
            doc = json.loads(request.body)
        except (ValueError, RecursionError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("type"), str):
            types[doc["type"]] += 1
    assert set(ACTIVITY_TYPES) - {"unknown"} <= set(types)
    signed = sum(1 for r in requests if any(k == "Signature" for k, _ in r.headers))
    assert signed > 0.85 * len(requests)


def test_web_requests_cover_every_route() -> None:
    requests = WebRequests(1, BASE, {"anon": "a", "user": "u", "admin": "r"}, {})
    seen = {requests.build(i).route for i in range(3000)}
    assert seen == {f"{r.method} {r.path}" for r in ROUTES}
