"""Mutated, signed inbox POSTs: the body is mutated first and signed after, so most get past
the signature check and the parser, origin checks, storage and the worker see hostile data.

About one request in five attacks the headers instead (no signature, garbled ones, odd
algorithms and key ids, wrong digests, stale dates, odd content types, huge headers).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import httpx
from support.live import LiveServer
from support.remote import AS2_TYPE, RemoteFediverse

from fediverse_ai.errors import FediverseError
from fediverse_ai.federation import interactions, publish, resolver
from fediverse_ai.httpsig import sign_request, sign_request_rfc9421
from fediverse_ai.models import Draft

from .activities import ActivityFactory, Targets
from .encode import encode_body
from .harness import header_bytes, reason_of, send_raw
from .mutate import hostile_url, hostile_value, mutate_doc
from .peer import dress, key_path
from .requests import FuzzRequest, rng_for

CONTENT_TYPES = (
    AS2_TYPE,
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
    "application/activity+json; charset=\u00e9",
)


class InboxRequests:
    """Builds request ``index`` of a run: deterministic in (seed, index)."""

    def __init__(
        self, seed: int, remote: RemoteFediverse, factory: ActivityFactory, inboxes: list[str]
    ) -> None:
        self.seed = seed
        self.remote = remote
        self.factory = factory
        self.inboxes = inboxes
        # Users whose served actor documents are themselves mutated (see hostile_actors).
        self.signers = ["alice", "bob", *(n for n in remote.users if n not in ("alice", "bob"))]

    def build(self, index: int) -> FuzzRequest:
        """Request ``index``: a mutated activity, encoded, signed, maybe with bad headers."""
        rng = rng_for(self.seed, index, "inbox")
        name = rng.choice(self.signers[:2]) if rng.random() < 0.7 else rng.choice(self.signers)
        doc = self.factory.build(rng, name, f"f{self.seed}-{index}")
        notes = [f"{doc['type'] or 'no type'} by {name}"]
        for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
            doc, what = mutate_doc(doc, rng, base=self.remote.base_url)
            notes.append(what)
        self._mutate_served(doc, rng, notes)
        body, encoding = encode_body(doc, rng)
        notes.append(f"encoding: {encoding}")
        # The first inbox is the shared one, the last one no actor's (a 404 before anything).
        url = rng.choices(self.inboxes, weights=[5] * (len(self.inboxes) - 1) + [1])[0]
        content_type = AS2_TYPE if rng.random() < 0.85 else rng.choice(CONTENT_TYPES)
        headers = {"Content-Type": content_type, "User-Agent": "fuzz/1"}
        private_pem = self.remote.users[name].private_key_pem
        key_id = self.remote.key_id(name)
        now = datetime.now(UTC)
        if rng.random() < 0.12:
            headers |= sign_request_rfc9421(
                "POST", url, headers, body, key_id=key_id, private_key_pem=private_pem, now=now
            )
            notes.append("signed RFC 9421")
        else:
            headers |= sign_request(
                "POST", url, headers, body, key_id=key_id, private_key_pem=private_pem, now=now
            )
        raw = False
        if rng.random() < 0.2:
            raw = self._attack_headers(headers, body, rng, notes, name)
        return FuzzRequest(index, "POST", url, list(headers.items()), body, notes, raw=raw)

    def _mutate_served(self, doc: object, rng: random.Random, notes: list[str]) -> None:
        """Now and then, the note the worker will fetch is served mutated."""
        if not isinstance(doc, dict) or rng.random() > 0.3:
            return
        obj = doc.get("object")
        target = obj if isinstance(obj, str) else doc.get("inReplyTo")
        if not isinstance(target, str) or not target.startswith(self.remote.base_url + "/"):
            return
        path = target.removeprefix(self.remote.base_url)
        served = self.remote.objects.get(path)
        if served is not None:
            mutated, what = mutate_doc(served, rng, base=self.remote.base_url)
            self.remote.objects[path] = mutated
            notes.append(f"served object {path}: {what}")

    def _attack_headers(
        self,
        headers: dict[str, str],
        body: bytes,
        rng: random.Random,
        notes: list[str],
        name: str,
    ) -> bool:
        """Break the headers one way; True when only a bare socket can send the result."""
        kind = rng.randrange(14)
        sig = headers.get("Signature", "")
        if kind == 0:
            for header in ("Signature", "Signature-Input"):
                headers.pop(header, None)
            notes.append("no signature")
        elif kind == 1:
            headers["Signature"] = rng.choice(
                [
                    "",
                    "garbage",
                    'keyId="',
                    'keyId="x",signature="@@@"',
                    'sig1=:AAAA:, sig1=("@method");keyid="x"',
                    ",".join(['a="b"'] * 5000),
                    'keyId="x",headers="(request-target) host date digest",signature="'
                    + base64.b64encode(rng.randbytes(256)).decode()
                    + '"',
                ]
            )
            notes.append("garbled signature")
        elif kind == 2 and 'algorithm="rsa-sha256"' in sig:
            algorithm = rng.choice(
                ["hs2019", "RSA-SHA256", "ed25519", "hmac-sha256", "rsa-sha1", ""]
            )
            headers["Signature"] = sig.replace('"rsa-sha256"', json.dumps(algorithm))
            notes.append(f"algorithm {algorithm!r}")
        elif kind == 3 and "keyId=" in sig:
            key_id = rng.choice(
                [
                    self.remote.key_id("bob"),
                    self.remote.actor_uri("alice"),
                    f"{self.remote.base_url}{key_path(name)}",  # a key document of its own
                    f"{self.remote.base_url}{key_path(name)}",
                    f"{self.remote.base_url}/users/nobody#main-key",
                    f"{self.remote.base_url}/statuses/x#main-key",
                    hostile_url(rng, self.remote.base_url),
                ]
            ).replace('"', "%22")
            head, _, tail = sig.partition('",')
            headers["Signature"] = f'keyId="{key_id}",{tail}'
            notes.append(f"keyId {key_id[:80]!r} instead of {head[7:80]!r}")
        elif kind == 4:
            wrong_256 = base64.b64encode(rng.randbytes(32)).decode()
            wrong_512 = base64.b64encode(rng.randbytes(64)).decode()
            headers["Digest"] = rng.choice(
                [f"SHA-256={wrong_256}", "SHA-256=!!!", "MD5=x", "", f"SHA-512={wrong_512}", "x"]
            )
            headers["Content-Digest"] = rng.choice(["sha-256=:AAAA:", "garbage", "sha-512=:x:"])
            notes.append("digest wrong or malformed")
        elif kind == 5:
            headers["Date"] = rng.choice(
                [
                    "yesterday",
                    "",
                    "Thu, 01 Jan 1970 00:00:00 GMT",
                    "Fri, 31 Dec 9999 23:59:59 GMT",
                    _http_date(datetime.now(UTC) + timedelta(hours=rng.choice([-13, 2, 24]))),
                    "Mon, 32 Foo 2026 99:99:99 GMT",
                    "0" * 5000,
                ]
            )
            notes.append("date far off or garbled")
        elif kind == 6:
            headers["Content-Type"] = rng.choice(CONTENT_TYPES)
            notes.append("content type changed after signing")
        elif kind == 7:
            headers["X-Huge"] = "a" * rng.choice([8_000, 70_000])
            notes.append("huge header")
            # uvicorn answers headers over 16 KB with a 400 and closes, maybe while the body
            # is still being sent: only a bare socket can tell that from a crash.
            return True
        elif kind == 8:
            headers["Host"] = rng.choice(["127.0.0.1:1", "evil.test", ""])
            notes.append("Host changed after signing")
        elif kind == 9:
            headers["Content-Length"] = str(len(body) + rng.choice([-1, 1, 10, -len(body)]))
            notes.append("content length mismatch")
            return True
        elif kind == 10:
            headers["Transfer-Encoding"] = "chunked"
            notes.append("chunked")
            return True
        elif kind == 11:
            headers["Signature"] = sig + "," + sig
            notes.append("two signatures in one header")
        elif kind == 12:
            headers["Signature-Input"] = (
                str(hostile_value(rng))[:2000].encode("ascii", "replace").decode()
            )
            notes.append("hostile Signature-Input")
        else:
            headers["Signature"] = sig.replace("signature=", "created=1,expires=2,signature=")
            notes.append("(created)/(expires) parameters")
        return False


def _http_date(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


async def prepare(live: LiveServer, remote: RemoteFediverse, seed: int) -> InboxRequests:
    """Dress the peer, give our server a user and posts to point at, and return the builder."""
    dress(remote, seed)
    carol = await live.account("carol")
    local_notes = [
        (await publish.publish_note(live.state, account, Draft(text=text))).uri
        for account, text in ((live.ai, "hello from the AI"), (carol, "carol's post"))
    ]
    # Our own follows of the peer's users, for its Accepts and Rejects to answer.
    for name in ("alice", "bob", "h0", "h1"):
        with suppress(FediverseError):  # h users' actor documents may be unusable
            await interactions.follow(
                live.state, carol, await resolver.fetch_actor(live.state, remote.actor_uri(name))
            )
    follows = await live.state.db.fetchall("SELECT uri FROM follows WHERE uri IS NOT NULL")
    targets = Targets(
        ai=live.ai.actor.uri,
        user=carol.actor.uri,
        instance=live.instance.actor.uri,
        notes=tuple(local_notes),
        base_url=live.base_url,
        follows=tuple(r["uri"] for r in follows),
    )
    # The last inbox is no actor's: InboxRequests.build picks it rarely.
    inboxes = [live.shared_inbox, live.inbox("ai"), live.inbox("carol")]
    inboxes += [f"{live.base_url}/actor/inbox", live.inbox("nobody")]
    return InboxRequests(seed, remote, ActivityFactory(remote, targets), inboxes)


def inbox_sender(
    client: httpx.AsyncClient,
) -> Callable[[FuzzRequest], Awaitable[tuple[int | str, str]]]:
    """Sends an inbox request through ``client``, or over a bare socket when it must."""

    async def send(request: FuzzRequest) -> tuple[int | str, str]:
        if request.raw:
            return await send_raw(request)
        response = await client.post(
            request.url, content=request.body, headers=header_bytes(request.headers)
        )
        return response.status_code, reason_of(response)

    return send
