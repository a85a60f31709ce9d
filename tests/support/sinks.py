"""Counting inboxes: a real HTTP server on 127.0.0.1 that stands in for thousands of peers' inboxes.

Every ``POST .../inbox`` under any path is an inbox of its own, so one :class:`InboxSink`
serves as many followers as a test seeds (``/users/f17/inbox``...). Each POST is verified with
``fediverse_ai.httpsig.verify_request``, fetching the signer's key from our server over HTTP as a
strict peer would, and recorded in arrival order. Receivers dedupe by activity id, so the sink
counts both figures: raw receipts and distinct (inbox, activity id) pairs; a duplicate is a
delivery the sender made twice.

A sink can go down (:meth:`InboxSink.stop`: connections refused) or answer 503 (``status``)
and come back on the same port, as a peer's outage looks from the sender.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fediverse_ai.errors import FediverseError
from fediverse_ai.httpsig import ResolvedKey, verify_request

from .serving import RestartableServer, fetch_actor_key, read_body

__all__ = ["InboxSink", "Receipt"]

AS2_TYPE = "application/activity+json"


@dataclass(frozen=True)
class Receipt:
    """One POST that reached an inbox of the sink."""

    inbox: str  # the path, e.g. /users/f17/inbox
    activity_id: str | None
    type: str | None
    object_id: str | None
    verified: bool
    error: str | None
    at: float  # time.monotonic() at arrival


class InboxSink(RestartableServer):
    """Inboxes on ``<host>:<port>`` that answer 202 to every verified POST."""

    def __init__(
        self,
        *,
        ca_bundle: Path | None = None,
        clock: Callable[[], float] = time.time,
        verify: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        """``clock``: the time signatures are checked against (a test that pins our server's
        clock pins this one too); ``verify=False`` records without checking signatures;
        ``host``: another loopback address (127.0.0.2...) makes the sink a peer of its own."""
        super().__init__(ca_bundle=ca_bundle)
        self.host = host
        self.clock = clock
        self.verify = verify
        self.status: int | None = None  # answer this instead of 202 (e.g. 503: overloaded)
        self.received: list[Receipt] = []
        self.errors: list[str] = []
        self._keys: dict[str, ResolvedKey] = {}

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the sink was never started")
        return f"http://{self.host}:{self.port}"

    def inbox(self, name: str) -> str:
        return f"{self.base_url}/users/{name}/inbox"

    # --- figures ---------------------------------------------------------------------------

    def counts(self) -> collections.Counter[tuple[str, str | None]]:
        """Receipts per (inbox, activity id): 1 is right, 2 or more a duplicate."""
        return collections.Counter((r.inbox, r.activity_id) for r in self.received)

    def duplicates(self) -> int:
        """Receipts beyond the first of each (inbox, activity id)."""
        return sum(n - 1 for n in self.counts().values())

    def by_inbox(self) -> dict[str, list[Receipt]]:
        """Each inbox's receipts in the order they arrived."""
        found: dict[str, list[Receipt]] = collections.defaultdict(list)
        for receipt in self.received:
            found[receipt.inbox].append(receipt)
        return dict(found)

    def unverified(self) -> list[Receipt]:
        return [r for r in self.received if not r.verified]

    # --- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        try:
            status = await self._handle(scope, body)
        except Exception as exc:  # a test must see its sink's crashes
            self.errors.append(f"{scope['method']} {scope['path']}: {exc!r}")
            status = 500
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    async def _handle(self, scope: dict[str, Any], body: bytes) -> int:
        path = scope["path"]
        if scope["method"] != "POST" or not path.endswith("/inbox"):
            return 404
        if self.status is not None:
            return self.status
        try:
            activity = json.loads(body)
        except ValueError:
            activity = None
        if not isinstance(activity, dict):
            activity = {}
        obj = activity.get("object")
        verified, error = True, None
        if self.verify:
            verified, error = await self._check(scope, body, activity)
        self.received.append(
            Receipt(
                inbox=path,
                activity_id=_str(activity.get("id")),
                type=_str(activity.get("type")),
                object_id=_str(obj.get("id") if isinstance(obj, dict) else obj),
                verified=verified,
                error=error,
                at=time.monotonic(),
            )
        )
        return 202 if verified else 401

    async def _check(
        self, scope: dict[str, Any], body: bytes, activity: dict[str, Any]
    ) -> tuple[bool, str | None]:
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        url = f"{self.base_url}{raw_path}"
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        try:
            result = await verify_request(
                "POST",
                url,
                headers,
                body,
                fetch_key=self._fetch_key,
                now=datetime.fromtimestamp(self.clock(), UTC),
            )
        except FediverseError as exc:
            return False, exc.message
        if activity.get("actor") != result.owner:
            return False, "signed by someone other than the activity's actor"
        return True, None

    async def learn_key(self, actor_url: str) -> None:
        """Fetch and keep the key of ``actor_url`` now, while its server is up (a sink that
        first meets a signer while the signer's server is down answers 401)."""
        await self._fetch_key(f"{actor_url}#main-key", False)

    async def _fetch_key(self, key_id: str, refresh: bool) -> ResolvedKey:
        if refresh or key_id not in self._keys:
            self._keys[key_id] = await fetch_actor_key(self._client, key_id)
        return self._keys[key_id]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
