"""A stand-in for a remote fediverse server: a real HTTP server on 127.0.0.1.

It serves what a Mastodon-like peer serves (actor documents with RSA-2048 keys made
for the test, WebFinger, notes, empty collections) and an inbox that records every POST
it receives and verifies each one with ``fediverse_ai.httpsig.verify_request``, fetching
the signer's key from *our* server over HTTP. So a delivery from our server counts as
received only if it would pass a strict peer's signature check, end to end.

It also builds activities the way peers send them and signs them (draft-cavage or
RFC 9421) to POST them to our inbox.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx

from fediverse_ai.errors import FediverseError
from fediverse_ai.httpsig import ResolvedKey, sign_request, sign_request_rfc9421, verify_request
from fediverse_ai.models import Actor

from .keys import reusable_key
from .serving import (
    RestartableServer,
    fetch_actor_key,
    is_loopback_test_host,
    read_body,
)

__all__ = [
    "AS2_TYPE",
    "PUBLIC",
    "ReceivedPost",
    "RemoteFediverse",
    "RemoteUser",
    "remote_server",
]

AS2_TYPE = "application/activity+json"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
Scheme = Literal["cavage", "rfc9421"]
Json = dict[str, Any]


@dataclass
class RemoteUser:
    username: str
    display_name: str
    actor_type: str
    private_key_pem: str
    public_key_pem: str
    # What its server claims in the actor document, when not the path's name (hostile peers).
    preferred_username: str | None = None
    actor_extra: Json = field(default_factory=dict)
    # Keys its server leaves out of the actor document (Pleroma and Misskey send no `indexable`).
    actor_omit: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ReceivedPost:
    """One POST that reached the remote inbox, and what its signature check found."""

    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    activity: Json | None
    verified: bool
    signer: str | None  # the key owner's actor id when the signature verified
    scheme: str | None
    error: str | None

    @property
    def type(self) -> str | None:
        return str(self.activity.get("type")) if self.activity else None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json(doc: Any, status: int = 200, content_type: str = AS2_TYPE) -> _Response:
    return _Response(status, json.dumps(doc).encode(), content_type)


class RemoteFediverse(RestartableServer):
    """A small ActivityPub server with a few users, as a raw ASGI app served by uvicorn."""

    def __init__(
        self,
        usernames: Iterable[str] = ("alice", "bob"),
        host: str = "127.0.0.1",
        *,
        public_base: str | None = None,
        ca_bundle: Path | None = None,
    ):
        """``public_base`` (``https://evil.test``) is where the e2e harness's nginx front serves
        this peer: ids, keys and inboxes then use it, and ``ca_bundle`` is the CA to trust."""
        super().__init__(ca_bundle=ca_bundle)
        self.host = host
        self.public_base = public_base
        self.users: dict[str, RemoteUser] = {}
        for name in usernames:
            private_pem, public_pem = reusable_key(f"remote:{name}")
            self.users[name] = RemoteUser(name, name.title(), "Person", private_pem, public_pem)
        self.objects: dict[str, Json] = {}  # path -> document served there
        self.redirects: dict[str, str] = {}  # path -> where a GET of it is sent (302)
        self.overrides: dict[str, Json] = {}  # path -> document served instead of a user's
        self.jrd_overrides: dict[str, Json] = {}  # WebFinger resource -> answer served instead
        self.files: dict[str, tuple[str, bytes]] = {}  # path -> (content type, bytes): media
        self.statuses: dict[str, int] = {}  # path -> an error status answered there (410, 503)
        self.received: list[ReceivedPost] = []
        self.fetched: list[str] = []  # paths of every GET, in order (key fetches included)
        self.errors: list[str] = []  # handler crashes: a test should see none
        self._key_cache: dict[str, ResolvedKey] = {}

    # --- URLs and documents ----------------------------------------------------------------

    @property
    def authority(self) -> str:
        if self.public_base is not None:
            return httpx.URL(self.public_base).netloc.decode("ascii")
        if self.port is None:
            raise RuntimeError("remote server was never started")
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.public_base or f"http://{self.authority}"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    def actor_uri(self, username: str) -> str:
        return f"{self.base_url}/users/{username}"

    def inbox(self, username: str) -> str:
        return f"{self.actor_uri(username)}/inbox"

    def followers(self, username: str) -> str:
        return f"{self.actor_uri(username)}/followers"

    def key_id(self, username: str) -> str:
        return f"{self.actor_uri(username)}#main-key"

    def handle(self, username: str) -> str:
        return f"{username}@{self.authority}"

    def actor_document(self, username: str) -> Json:
        user = self.users[username]
        uri = self.actor_uri(username)
        doc = {
            "@context": [AS_CONTEXT, SECURITY_CONTEXT],
            "id": uri,
            "type": user.actor_type,
            "preferredUsername": user.preferred_username or username,
            "name": user.display_name,
            "summary": f"<p>{user.display_name} lives on a test server.</p>",
            "url": f"{self.base_url}/@{username}",
            "inbox": f"{uri}/inbox",
            "outbox": f"{uri}/outbox",
            "followers": f"{uri}/followers",
            "following": f"{uri}/following",
            "endpoints": {"sharedInbox": self.shared_inbox},
            "publicKey": {
                "id": self.key_id(username),
                "owner": uri,
                "publicKeyPem": user.public_key_pem,
            },
            "manuallyApprovesFollowers": False,
            "discoverable": True,
            "indexable": True,
            **user.actor_extra,
        }
        return {k: v for k, v in doc.items() if k not in user.actor_omit}

    def new_id(self, kind: str = "activities") -> str:
        return f"{self.base_url}/{kind}/{secrets.token_hex(8)}"

    def serve(self, doc: Json) -> None:
        """Serve ``doc`` at its id (which must be one of our URLs)."""
        doc_id = str(doc["id"])
        if not doc_id.startswith(self.base_url + "/"):
            raise ValueError("the remote serves only its own URLs")
        self.objects[doc_id.removeprefix(self.base_url)] = {"@context": AS_CONTEXT, **doc}

    def note(
        self,
        username: str,
        content: str,
        *,
        note_id: str | None = None,
        to: Iterable[str] = (PUBLIC,),
        cc: Iterable[str] | None = None,
        tag: Iterable[Json] = (),
        attachment: Iterable[Json] = (),
        published: str = "2026-01-01T12:00:00Z",
        updated: str | None = None,
        **extra: Any,
    ) -> Json:
        """A Note by ``username`` (served at its id when that is ours), without @context."""
        actor = self.actor_uri(username)
        doc: Json = {
            "id": note_id or f"{actor}/statuses/{secrets.token_hex(8)}",
            "type": "Note",
            "attributedTo": actor,
            "content": content,
            "published": published,
            "to": list(to),
            "cc": list(cc) if cc is not None else [self.followers(username)],
            "tag": list(tag),
            "attachment": list(attachment),
            **extra,
        }
        if updated is not None:
            doc["updated"] = updated
        if str(doc["id"]).startswith(self.base_url + "/"):
            self.serve(doc)
        return doc

    def activity(
        self,
        username: str,
        activity_type: str,
        obj: Any,
        *,
        activity_id: str | None = None,
        **extra: Any,
    ) -> Json:
        """An activity by ``username`` as peers send it: with @context, new id by default."""
        return {
            "@context": AS_CONTEXT,
            "id": activity_id or self.new_id(),
            "type": activity_type,
            "actor": self.actor_uri(username),
            "object": obj,
            **extra,
        }

    def mention(self, username: str, actor: Actor, handle: str, text: str) -> tuple[Json, Json]:
        """A public note by ``username`` that mentions our ``actor`` (``handle``: ``@name@host``)
        before ``text``, and the Create that sends it."""
        note = self.note(
            username,
            f'<p><a href="{actor.url}" class="u-url mention">@{actor.username}</a> {text}</p>',
            cc=(actor.uri,),
            tag=[{"type": "Mention", "href": actor.uri, "name": handle}],
        )
        return note, self.activity(username, "Create", note, to=[PUBLIC], cc=[actor.uri])

    @staticmethod
    def embedded(activity: Json) -> Json:
        """An activity as it is embedded in another (Undo, Accept): no @context."""
        return {k: v for k, v in activity.items() if k != "@context"}

    # --- signing and sending ---------------------------------------------------------------

    def signed_headers(
        self,
        url: str,
        body: bytes,
        *,
        username: str = "alice",
        scheme: Scheme = "cavage",
        now: datetime | None = None,
        private_key_pem: str | None = None,
        key_id: str | None = None,
    ) -> dict[str, str]:
        """Headers for a POST of ``body`` to ``url``, signed as ``username`` would sign it.

        ``private_key_pem``/``key_id`` override the key, to make forged signatures.
        """
        headers = {"Content-Type": AS2_TYPE, "Accept": AS2_TYPE, "User-Agent": "remote-test/1"}
        signer = sign_request if scheme == "cavage" else sign_request_rfc9421
        headers |= signer(
            "POST",
            url,
            headers,
            body,
            key_id=key_id or self.key_id(username),
            private_key_pem=private_key_pem or self.users[username].private_key_pem,
            now=now or datetime.now(UTC),
        )
        return headers

    def _signer_of(self, activity: Json) -> str:
        actor = str(activity.get("actor", ""))
        for name in self.users:
            if actor == self.actor_uri(name):
                return name
        return next(iter(self.users))

    async def send(
        self,
        url: str,
        activity: Json,
        *,
        username: str | None = None,
        scheme: Scheme = "cavage",
        now: datetime | None = None,
    ) -> httpx.Response:
        """POST ``activity`` to ``url``, signed by ``username`` (default: its actor)."""
        body = json.dumps(activity).encode()
        headers = self.signed_headers(
            url, body, username=username or self._signer_of(activity), scheme=scheme, now=now
        )
        return await self.post_raw(url, body, headers)

    async def post_raw(
        self, url: str, content: bytes | AsyncIterator[bytes], headers: Mapping[str, str]
    ) -> httpx.Response:
        if self._client is None:
            raise RuntimeError("remote server is not running")
        if not is_loopback_test_host(httpx.URL(url).host):
            raise ValueError("tests send traffic to loopback only")
        return await self._client.post(url, content=content, headers=dict(headers))

    async def get_signed(
        self, url: str, *, username: str = "alice", private_key_pem: str | None = None
    ) -> httpx.Response:
        """GET ``url`` as AS2, signed by ``username`` the way Mastodon signs its fetches."""
        if self._client is None:
            raise RuntimeError("remote server is not running")
        if not is_loopback_test_host(httpx.URL(url).host):
            raise ValueError("tests send traffic to loopback only")
        headers = {"Accept": AS2_TYPE, "User-Agent": "remote-test/1"}
        headers |= sign_request(
            "GET",
            url,
            headers,
            None,
            key_id=self.key_id(username),
            private_key_pem=private_key_pem or self.users[username].private_key_pem,
            now=datetime.now(UTC),
        )
        return await self._client.get(url, headers=headers)

    # --- inspection ------------------------------------------------------------------------

    def posts(self, *, path: str | None = None, type: str | None = None) -> list[ReceivedPost]:
        """What the inbox received, optionally only at ``path`` or of activity ``type``."""
        return [
            p
            for p in self.received
            if (path is None or p.path == path) and (type is None or p.type == type)
        ]

    # --- the ASGI app ----------------------------------------------------------------------

    async def __call__(self, scope: Json, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        try:
            response = await self._route(scope, body)
        except Exception as exc:
            self.errors.append(f"{scope['method']} {scope['path']}: {exc!r}")
            response = _Response(500, b'{"error": "remote test server crashed"}')
        headers = [(b"content-type", response.content_type.encode())]
        headers += [(k.encode(), v.encode()) for k, v in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _route(self, scope: Json, body: bytes) -> _Response:
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        if method == "POST" and (path == "/inbox" or self._user_path(path, "/inbox")):
            return await self._inbox(scope, body)
        if method != "GET":
            return _json({"error": "method not allowed"}, 405, "application/json")
        self.fetched.append(path)
        if path in self.statuses:
            return _json(
                {"error": "status set by the test"}, self.statuses[path], "application/json"
            )
        if path in self.redirects:
            return _Response(302, b"", headers=[("location", self.redirects[path])])
        if path in self.overrides:
            return _json(self.overrides[path])
        if path in self.files:
            content_type, data = self.files[path]
            return _Response(200, data, content_type)
        if path == "/.well-known/webfinger":
            return self._webfinger(query)
        for name in self.users:
            if path == f"/users/{name}":
                return _json(self.actor_document(name))
            if path in (f"/users/{name}/{c}" for c in ("followers", "following", "outbox")):
                uri = f"{self.base_url}{path}"
                return _json(
                    {
                        "@context": AS_CONTEXT,
                        "id": uri,
                        "type": "OrderedCollection",
                        "totalItems": 0,
                    }
                )
        if path in self.objects:
            return _json(self.objects[path])
        return _json({"error": "not found"}, 404, "application/json")

    def _user_path(self, path: str, suffix: str) -> bool:
        return any(path == f"/users/{name}{suffix}" for name in self.users)

    def _webfinger(self, query: str) -> _Response:
        resource = (parse_qs(query).get("resource") or [""])[0]
        if resource in self.jrd_overrides:
            return _json(self.jrd_overrides[resource], content_type="application/jrd+json")
        for name in self.users:
            if resource in (f"acct:{self.handle(name)}", self.actor_uri(name)):
                jrd = {
                    "subject": f"acct:{self.handle(name)}",
                    "aliases": [self.actor_uri(name)],
                    "links": [
                        {"rel": "self", "type": AS2_TYPE, "href": self.actor_uri(name)},
                        # Mastodon's remote-interaction template, as its WebFinger gives it.
                        {
                            "rel": "http://ostatus.org/schema/1.0/subscribe",
                            "template": f"{self.base_url}/authorize_interaction?uri={{uri}}",
                        },
                    ],
                }
                return _json(jrd, content_type="application/jrd+json")
        return _json({"error": "no such account"}, 404, "application/json")

    async def _inbox(self, scope: Json, body: bytes) -> _Response:
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{self.base_url}{raw_path}" + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        activity: Json | None = None
        try:
            parsed = json.loads(body)
            activity = parsed if isinstance(parsed, dict) else None
        except ValueError:
            pass
        verified, signer, scheme, error = False, None, None, None
        try:
            result = await verify_request(
                "POST", url, headers, body, fetch_key=self._fetch_key, now=datetime.now(UTC)
            )
            signer, scheme = result.owner, result.scheme
            if activity is None:
                error = "body is not a JSON object"
            elif activity.get("actor") != result.owner:
                error = "signed by someone other than the activity's actor"
            else:
                verified = True
        except FediverseError as exc:
            error = exc.message
        self.received.append(
            ReceivedPost(
                path=scope["path"],
                headers={k.lower(): v for k, v in headers},
                body=body,
                activity=activity,
                verified=verified,
                signer=signer,
                scheme=scheme,
                error=error,
            )
        )
        if verified:
            return _Response(202)
        return _json({"error": error}, 401, "application/json")

    async def _fetch_key(self, key_id: str, refresh: bool) -> ResolvedKey:
        """Fetch the signer's actor from its server (ours) the way a peer would."""
        if not refresh and key_id in self._key_cache:
            return self._key_cache[key_id]
        resolved = await fetch_actor_key(self._client, key_id)
        self._key_cache[key_id] = resolved
        return resolved


@asynccontextmanager
async def remote_server(
    usernames: Iterable[str] = ("alice", "bob"),
    host: str = "127.0.0.1",
    *,
    public_base: str | None = None,
    ca_bundle: Path | None = None,
) -> AsyncIterator[RemoteFediverse]:
    """A running ``RemoteFediverse``, stopped on exit whatever happens in between."""
    remote = RemoteFediverse(usernames, host, public_base=public_base, ca_bundle=ca_bundle)
    await remote.start()
    try:
        yield remote
    finally:
        await remote.stop()
