"""The mixed load of the crash test: signed inbox traffic from stand-in peers, and its figures.

Peers send what peers send (Create, Create mentioning the AI, Like, Follow), each with an id of
its own, and act as real peers do when an inbox does not answer 202: they send the same
activity again later. So every activity is accepted in the end, some of them twice (the first
answer lost in a crash), and the server must still process each exactly once.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from support import store_view
from support.remote import RemoteFediverse

Json = dict[str, Any]


@dataclass
class Sent:
    """One activity a peer sends until our inbox accepts it."""

    peer: RemoteFediverse
    kind: str  # create, mention, like, follow
    activity: Json
    answers: list[str] = field(default_factory=list)  # status codes, or the exception's name

    @property
    def id(self) -> str:
        return str(self.activity["id"])

    @property
    def object_id(self) -> str:
        obj = self.activity["object"]
        return str(obj["id"] if isinstance(obj, dict) else obj)

    @property
    def accepted(self) -> bool:
        return "202" in self.answers


@dataclass
class Figures:
    """What the crash test measured; printed, and copied into BENCHMARKS.md."""

    seed: int
    requests: int = 0
    accepted: int = 0  # 202s, repeats of an activity included
    refused: int = 0  # answers other than 202 (nginx's 502 while the server is down)
    failed: int = 0  # no answer at all (a connection cut by the kill)
    answers: dict[str, int] = field(default_factory=dict)  # status code (or error) -> how many
    kills: int = 0
    kills_mid_fanout: int = 0  # kills that came while deliveries were arriving at the sinks
    processed_once: int = 0
    mentions: int = 0
    ai_replies: int = 0
    ai_reply_duplicates: int = 0  # raw receipts beyond one per reply at the peers
    ai_failures: int = 0  # mentions answered with the apology, or not at all
    deliveries_expected: int = 0
    deliveries_received: int = 0  # distinct (inbox, activity id)
    deliveries_duplicated: int = 0  # raw receipts beyond the first
    deliveries_lost: int = 0
    deliveries_rerun: int = 0  # delivery jobs claimed more than once (a kill took their run)
    accepts_duplicated: int = 0
    failed_jobs: int = 0
    tracebacks: int = 0  # in the server's log, over all its runs
    kill_times: list[float] = field(default_factory=list)  # time.monotonic() of each kill
    wall_s: float = 0.0
    load_s: float = 0.0
    drain_s: float = 0.0

    def table(self) -> str:
        rows = [(name, f"{value:.1f}" if isinstance(value, float) else str(value))
                for name, value in vars(self).items() if name != "kill_times"]  # fmt: skip
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name.ljust(width)}  {value}" for name, value in rows)


class InboxLoad:
    """The activities the peers will send, and the sending."""

    def __init__(self, inbox_url: str, rng: random.Random, figures: Figures) -> None:
        self.inbox_url = inbox_url
        self.rng = rng
        self.figures = figures
        self.all: list[Sent] = []
        self.waiting: deque[Sent] = deque()

    def plan(
        self,
        peers: list[RemoteFediverse],
        *,
        ai_uri: str,
        like_targets: list[str],
        follow_targets: list[str],
        creates: int,
        mentions: int,
    ) -> None:
        """Every activity of the run, in a seeded random order. Likes and Follows are one per
        (person, target): a second Like of the same post by the same person is the same like."""
        users = [(peer, name) for peer in peers for name in peer.users]
        for i in range(creates + mentions):
            peer, name = self.rng.choice(users)
            if i < mentions:
                note = peer.note(
                    name,
                    f"<p>@ai question {i}: what is a lighthouse?</p>",
                    cc=[ai_uri],
                    tag=[{"type": "Mention", "href": ai_uri, "name": "@ai@a.test"}],
                )
                kind = "mention"
            else:
                note = peer.note(name, f"<p>post {i} from the load</p>")
                kind = "create"
            activity = peer.activity(name, "Create", note, to=note["to"], cc=note["cc"])
            self.all.append(Sent(peer, kind, activity))
        for peer, name in users:
            for target in like_targets:
                self.all.append(Sent(peer, "like", peer.activity(name, "Like", target)))
            for target in follow_targets:
                self.all.append(Sent(peer, "follow", peer.activity(name, "Follow", target)))
        self.rng.shuffle(self.all)
        self.waiting.extend(self.all)

    async def burst(self, size: int) -> None:
        """Send up to ``size`` waiting activities at once; those not accepted wait again."""
        batch = [self.waiting.popleft() for _ in range(min(size, len(self.waiting)))]
        await asyncio.gather(*(self._send(sent) for sent in batch))

    async def _send(self, sent: Sent) -> None:
        self.figures.requests += 1
        try:
            response = await sent.peer.send(self.inbox_url, sent.activity)
        except httpx.HTTPError as exc:
            self._answered(sent, type(exc).__name__)
            self.figures.failed += 1
            self.waiting.append(sent)
            return
        self._answered(sent, str(response.status_code))
        if response.status_code == 202:
            self.figures.accepted += 1
        else:
            self.figures.refused += 1
            self.waiting.append(sent)

    def _answered(self, sent: Sent, answer: str) -> None:
        sent.answers.append(answer)
        self.figures.answers[answer] = self.figures.answers.get(answer, 0) + 1

    def of_kind(self, kind: str) -> list[Sent]:
        return [sent for sent in self.all if sent.kind == kind]


def seed_followers(
    database: store_view.Target, followee: str, inboxes: list[str], *, now: float
) -> None:
    """Remote followers of local ``followee``, one per inbox, straight into the tables of a
    stopped server (following 5,000 times over HTTP would take minutes on two cores)."""
    with store_view.connect(database) as conn:
        conn.executemany(
            "INSERT INTO actors (uri, local, username, domain, inbox, published)"
            " VALUES (?, 0, ?, ?, ?, ?)",
            [
                (inbox.removesuffix("/inbox"), f"f{i}", inbox.split("/")[2], inbox, now)
                for i, inbox in enumerate(inboxes)
            ],
        )
        conn.execute(
            "INSERT INTO follows (follower_id, followee_id, state, created_at)"
            " SELECT f.id, t.id, 'accepted', ? FROM actors f, actors t"
            " WHERE f.local = 0 AND f.inbox LIKE 'http://127.0.0.1:%' AND t.uri = ?",
            (now, followee),
        )
