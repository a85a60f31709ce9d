"""A real bovine-herd (0.5.19) ActivityPub server for fediverse-ai interop tests.

Runs under its own virtualenv (``.cache/bovine-venv``, made by
``scripts/install-interop-deps.sh``), not under the project's: bovine pins its own
dependencies. One actor, ``alice``, is registered at start in a fresh SQLite database; the
server listens on 127.0.0.1:PORT behind the e2e harness's nginx as https://DOMAIN.

bovine-herd requires signed GETs for actors and objects, does not accept follows by itself,
and acts only through the client-to-server outbox. So this launcher drives alice like a bovine
client would: every command below POSTs an activity to alice's outbox at https://DOMAIN,
through nginx, authenticated with Moo-Auth-1 (an Ed25519 did:key registered for alice).

A JSON control API under ``/_control/`` (answered before bovine sees the request):

  POST /_control/follow    {"handle": "ai@a.test"}                  -> {"id": followId, "actor"}
  POST /_control/unfollow  {"handle": "ai@a.test"}                  -> {"id": undoId}
  POST /_control/accept    {"actor": actorUrl}     accept its Follow -> {"id": acceptId}
  POST /_control/post      {"content", "mentions": [actorUrl], "inReplyTo"?,
                            "visibility": "public"|"followers"|"direct", "sensitive"?,
                            "attachments"?: [{"type", "mediaType", "url" (/_media/NAME),
                            "name"}]} -> {"id": noteId}
  GET  /_media/NAME        a small picture (NAME.png) or video (NAME.mp4) the posts attach,
                           or the file a test stored under NAME with /_control/media
  POST /_control/media     {"name", "mediaType", "base64"} -> {"url"}: serve those bytes at
                           /_media/NAME (a real picture for a test to attach)
  POST /_control/update    {"id": noteId, "content"}                -> {"id": updateId}
  POST /_control/delete    {"id": noteId}                           -> {"id": deleteId}
  POST /_control/fetch     {"url"}          a GET signed as alice -> {"document"} or {"error"}
  GET  /_control/received  -> [{type, id, actor, object, json}], oldest first, each after
                              bovine's inbox processing finished
  GET  /_control/state     -> {actor, inbox, followers, following, missingContexts, processed}
  GET  /_control/exchanges -> the HTTP exchanges, in and out (secrets dropped, bodies cut)

JSON-LD contexts are never fetched: bovine's context cache (``bovine_jsonld_cache.sqlite`` in
the working directory) is seeded from ``contexts.json`` beside this file (security/v1, did/v1,
multikey/v1, data-integrity/v1, the FEP-2c59 webfinger term; as the W3C and w3id.org publish them,
copied from Fedify 2.3.6's preloaded contexts), ActivityStreams and bovine's own context come
built in, and any other context is answered empty and listed in ``missingContexts``.

Usage: python peer.py --port PORT --domain bovine.test --workdir DIR [--bench]

``--bench`` (the intake benchmark, ``bench/bovine.py``): no exchange recording, no copies of
received activities, warnings only; ``processed`` in the state still counts inbox items done.
Trust the test CA with SSL_CERT_FILE (aiohttp) and REQUESTS_CA_BUNDLE (requests).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import logging
import os
import re
import signal
import sys
import time
from base64 import b64decode
from collections import deque
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
USERNAME = "alice"
SECRET_HEADERS = {"authorization", "signature", "x-moo-signature", "cookie", "set-cookie"}
BODY_LIMIT = 4000

log = logging.getLogger("bovine-peer")
EXCHANGES: deque[dict[str, Any]] = deque(maxlen=400)
RECEIVED: list[dict[str, Any]] = []
MISSING_CONTEXTS: list[str] = []
PROCESSED = [0]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--domain", default="bovine.test")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--bench", action="store_true", help="measure, do not record")
    return parser.parse_args()


def redact(headers: Any) -> dict[str, str]:
    result = {}
    for key, value in headers:
        key = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        result[key.lower()] = "[dropped]" if key.lower() in SECRET_HEADERS else value
    return result


def cut(body: bytes | str | None) -> str:
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + f"... [{len(text)} chars]"


def record_exchange(entry: dict[str, Any]) -> None:
    EXCHANGES.append(entry)
    log.info("%s %s %s -> %s", entry["direction"], entry["method"], entry["url"], entry["status"])


# --- offline JSON-LD --------------------------------------------------------------------------


def install_offline_contexts() -> None:
    """Seed bovine's context cache and never let pyld reach the network."""
    import bovine.jsonld as bovine_jsonld
    from pyld import jsonld

    seeds = json.loads((HERE / "contexts.json").read_text())
    for url, context in seeds.items():
        if bovine_jsonld.jsonld_cache.retrieve(url) is None:
            bovine_jsonld.jsonld_cache.add(url, context)
    builtin = {bovine_jsonld.bovine_context_name, "https://www.w3.org/ns/activitystreams"}

    def offline_loader(url: str, options: dict[str, Any] | None = None, **_: Any) -> Any:
        if url in builtin or url.startswith("http://joinmastodon.org/ns"):
            return bovine_jsonld.wrapper(url, options or {})  # answered without a fetch
        context = bovine_jsonld.jsonld_cache.retrieve(url)
        if context is None:
            log.warning("JSON-LD context not pre-seeded, answered empty: %s", url)
            MISSING_CONTEXTS.append(url)
            context = []
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": {"@context": context},
        }

    jsonld.set_document_loader(offline_loader)


# --- recording --------------------------------------------------------------------------------


class Recorder:
    """ASGI middleware: log every request that is not a control call, with its answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_control/"):
            await self.app(scope, receive, send)
            return
        headers = redact(scope["headers"])
        query = scope.get("query_string", b"").decode("latin-1")
        entry: dict[str, Any] = {
            "direction": "in",
            "time": time.strftime("%H:%M:%S"),
            "method": scope["method"],
            "url": f"https://{headers.get('host', '?')}{scope['path']}"
            + (f"?{query}" if query else ""),
            "request_headers": headers,
            "status": None,
        }
        request_body = bytearray()
        response_body = bytearray()

        async def receive_wrapper() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                entry["response_headers"] = redact(message.get("headers", []))
            elif message["type"] == "http.response.body" and len(response_body) < BODY_LIMIT:
                response_body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        finally:
            entry["request_body"] = cut(bytes(request_body))
            entry["response_body"] = cut(bytes(response_body))
            record_exchange(entry)


def tracing_config() -> Any:
    """aiohttp trace hooks: log every request bovine makes."""
    import aiohttp

    trace = aiohttp.TraceConfig()

    async def on_start(_session: Any, ctx: Any, params: Any) -> None:
        ctx.entry = {
            "direction": "out",
            "time": time.strftime("%H:%M:%S"),
            "method": params.method,
            "url": str(params.url),
            "request_headers": redact(params.headers.items()),
            "status": None,
        }
        ctx.body = bytearray()

    async def on_chunk(_session: Any, ctx: Any, params: Any) -> None:
        ctx.body.extend(params.chunk)

    async def on_end(_session: Any, ctx: Any, params: Any) -> None:
        ctx.entry["status"] = params.response.status
        ctx.entry["response_headers"] = redact(params.response.headers.items())
        ctx.entry["request_body"] = cut(bytes(ctx.body))
        record_exchange(ctx.entry)

    async def on_exception(_session: Any, ctx: Any, params: Any) -> None:
        ctx.entry["status"] = f"error: {params.exception!r}"
        ctx.entry["request_body"] = cut(bytes(ctx.body))
        record_exchange(ctx.entry)

    trace.on_request_start.append(on_start)
    trace.on_request_chunk_sent.append(on_chunk)
    trace.on_request_end.append(on_end)
    trace.on_request_exception.append(on_exception)
    return trace


# --- the server -------------------------------------------------------------------------------


def build_app(args: argparse.Namespace) -> Any:
    import aiohttp
    from bovine import BovineClient
    from bovine.crypto import generate_ed25519_private_key, private_key_to_did_key
    from bovine_herd import BovineHerd
    from bovine_process import process_inbox_item
    from bovine_store import BovineAdminStore, BovineStore
    from bovine_store.models import BovineActor, CollectionItem
    from bovine_store.store import load_application_actor_data
    from quart import Quart, request

    origin = f"https://{args.domain}"
    app = Quart("bovine-peer")
    peer: dict[str, Any] = {}

    @app.before_serving
    async def make_session() -> None:
        # The threaded resolver reads /etc/hosts, where the harness puts the test hosts.
        connector = aiohttp.TCPConnector(resolver=aiohttp.ThreadedResolver())
        traces = [] if args.bench else [tracing_config()]
        app.config["session"] = aiohttp.ClientSession(connector=connector, trace_configs=traces)

    async def start_background_task_inbox(item: Any, actor: Any) -> None:
        async def process() -> None:
            if args.bench:
                try:
                    await process_inbox_item(item, actor)
                finally:
                    PROCESSED[0] += 1
                return
            data = copy.deepcopy(item.data)
            try:
                await process_inbox_item(item, actor)
            finally:
                RECEIVED.append(summarise(data))
                PROCESSED[0] += 1
                log.info("received %s %s from %s", data.get("type"), data.get("id"), item.submitter)

        app.add_background_task(process)

    BovineHerd(
        app,
        start_background_task_inbox=start_background_task_inbox,
        db_url=f"sqlite://{args.workdir / 'bovine.sqlite3'}",
    )

    @app.before_serving
    async def register_alice() -> None:
        existing = await BovineActor.get_or_none(handle_name=USERNAME)
        if existing is None:
            admin = BovineAdminStore(domain=origin)
            bovine_name = await admin.register(USERNAME)
            secret = generate_ed25519_private_key()
            await admin.add_identity_string_to_actor(
                bovine_name, "control", private_key_to_did_key(secret)
            )
            await admin.set_properties_for_actor(
                bovine_name,
                {
                    "type": "Person",
                    "name": "Alice (bovine peer)",
                    "summary": "A bovine-herd test peer for fediverse-ai",
                },
            )
            (args.workdir / "alice.json").write_text(
                json.dumps({"bovine_name": bovine_name, "secret": secret})
            )
        saved = json.loads((args.workdir / "alice.json").read_text())
        peer["bovine_name"] = saved["bovine_name"]
        peer["secret"] = saved["secret"]
        store: BovineStore = app.config["bovine_store"]
        actor = await store.actor_for_name(saved["bovine_name"])
        peer["actor"] = actor.actor_object.id
        peer["inbox"] = actor.actor_object.inbox
        peer["followers"] = actor.actor_object.followers
        peer["following"] = actor.actor_object.following
        peer["following_ids"] = {}
        # bovine makes its application actor (the key it signs key fetches with) on first use;
        # concurrent first uses race and all but one fail with KeyError 'private_key'.
        await load_application_actor_data(store.application_data)

    async def client() -> Any:
        """alice's C2S client (Moo-Auth-1), built on first use: it needs our own https."""
        if "client" not in peer:
            c = BovineClient(domain=origin, secret=peer["secret"])
            await c.init(session=app.config["session"])
            peer["client"] = c
        return peer["client"]

    async def send(activity: dict[str, Any]) -> str:
        c = await client()
        activity = {"@context": "https://www.w3.org/ns/activitystreams", **activity}
        response = await c.send_to_outbox(activity)
        text = await response.text()
        if response.status != 201:
            raise RuntimeError(f"outbox answered {response.status}: {text}")
        return str(response.headers["location"])

    async def lookup(handle_or_url: str) -> dict[str, Any]:
        c = await client()
        url = handle_or_url
        if not url.startswith("https://"):
            from bovine.clients import lookup_account_with_webfinger

            url = await lookup_account_with_webfinger(app.config["session"], handle_or_url)
        actor = await c.proxy(url)
        if not isinstance(actor, dict) or "inbox" not in actor:
            raise RuntimeError(f"not an actor: {handle_or_url}: {actor}")
        return actor

    async def follow(handle: str) -> dict[str, Any]:
        target = await lookup(handle)
        follow_id = await send(
            {"type": "Follow", "actor": peer["actor"], "object": target["id"], "to": [target["id"]]}
        )
        peer["following_ids"][handle] = (follow_id, target["id"])
        return {"id": follow_id, "actor": target["id"]}

    async def unfollow(handle: str) -> dict[str, Any]:
        follow_id, target = peer["following_ids"].pop(handle)
        undo_id = await send(
            {
                "type": "Undo",
                "actor": peer["actor"],
                "to": [target],
                "object": {
                    "id": follow_id,
                    "type": "Follow",
                    "actor": peer["actor"],
                    "object": target,
                },
            }
        )
        return {"id": undo_id}

    async def accept(actor: str) -> dict[str, Any]:
        follows = [
            r
            for r in RECEIVED
            if r["type"] == "Follow" and r["actor"] == actor and r["object"] == peer["actor"]
        ]
        if not follows:
            raise RuntimeError(f"no Follow from {actor} received")
        accept_id = await send(
            {"type": "Accept", "actor": peer["actor"], "to": [actor], "object": follows[-1]["json"]}
        )
        return {"id": accept_id}

    async def post(
        content: str,
        mentions: list[str] | None = None,
        inReplyTo: str | None = None,
        visibility: str = "public",
        sensitive: bool = False,
        attachments: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        mentioned = [await lookup(m) for m in mentions or []]
        ids = [m["id"] for m in mentioned]
        if visibility == "public":
            to, cc = [AS_PUBLIC], [peer["followers"], *ids]
        elif visibility == "followers":
            to, cc = [peer["followers"]], ids
        elif visibility == "direct":
            to, cc = ids, []
        else:
            raise ValueError(f"unknown visibility {visibility}")
        tags = [
            {
                "type": "Mention",
                "href": m["id"],
                "name": f"@{m.get('preferredUsername')}@{m['id'].split('/')[2]}",
            }
            for m in mentioned
        ]
        html = content if content.startswith("<") else f"<p>{escape(content)}</p>"
        note: dict[str, Any] = {
            "type": "Note",
            "attributedTo": peer["actor"],
            "content": html,
            "published": now(),
            "to": to,
            "cc": cc,
            "tag": tags,
        }
        if inReplyTo:
            note["inReplyTo"] = inReplyTo
        if sensitive:
            note["sensitive"] = True
        if attachments:
            note["attachment"] = [
                {**a, "url": a["url"] if "://" in a["url"] else f"{origin}{a['url']}"}
                for a in attachments
            ]
        create_id = await send(
            {"type": "Create", "actor": peer["actor"], "to": to, "cc": cc, "object": note}
        )
        c = await client()
        create = await c.get(create_id)
        obj = create["object"]
        note_id = obj if isinstance(obj, str) else obj["id"]
        peer.setdefault("notes", {})[note_id] = {**note, "id": note_id}
        return {"id": note_id, "activity": create_id}

    async def update(id: str, content: str) -> dict[str, Any]:
        note = dict(peer["notes"][id])
        note["content"] = f"<p>{escape(content)}</p>"
        note["updated"] = now()
        peer["notes"][id] = note
        update_id = await send(
            {
                "type": "Update",
                "actor": peer["actor"],
                "to": note["to"],
                "cc": note["cc"],
                "object": note,
            }
        )
        return {"id": update_id}

    async def delete(id: str) -> dict[str, Any]:
        note = peer["notes"].pop(id)
        delete_id = await send(
            {
                "type": "Delete",
                "actor": peer["actor"],
                "to": note["to"],
                "cc": note["cc"],
                "object": {"type": "Tombstone", "id": id},
            }
        )
        return {"id": delete_id}

    async def fetch(url: str) -> dict[str, Any]:
        """bovine's proxyUrl: the server fetches ``url`` for alice, signed with her key."""
        c = await client()
        try:
            document = await c.proxy(url)
        except Exception as exc:
            return {"error": repr(exc)}
        if not isinstance(document, dict) or "id" not in document:
            return {"error": f"not a document: {document!r}"[:500]}
        if document.get("type") == "Tombstone":
            # What bovine's proxy answers when the fetch failed (a 404 among others).
            return {"error": "bovine's proxy answered a Tombstone (the fetch failed)"}
        return {"document": document}

    async def media(name: str, mediaType: str, base64: str) -> dict[str, Any]:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"bad media name {name!r}")
        STORED_MEDIA[name] = (mediaType, b64decode(base64))
        return {"url": f"/_media/{name}"}

    async def collection(collection_id: str) -> list[str]:
        items = await CollectionItem.filter(part_of=collection_id).all()
        return [item.object_id for item in items]

    async def state() -> dict[str, Any]:
        return {
            "actor": peer["actor"],
            "inbox": peer["inbox"],
            "followers": await collection(peer["followers"]),
            "following": await collection(peer["following"]),
            "missingContexts": MISSING_CONTEXTS,
            "processed": PROCESSED[0],
        }

    commands = {
        "follow": follow,
        "unfollow": unfollow,
        "accept": accept,
        "post": post,
        "update": update,
        "delete": delete,
        "fetch": fetch,
        "media": media,
    }

    @app.before_request
    async def control() -> Any:
        if request.path.startswith("/_media/") and request.method == "GET":
            return media_file(request.path)
        if not request.path.startswith("/_control/"):
            return None
        name = request.path.removeprefix("/_control/")
        try:
            if request.method == "GET" and name == "received":
                return RECEIVED
            if request.method == "GET" and name == "state":
                return await state()
            if request.method == "GET" and name == "exchanges":
                return list(EXCHANGES)
            if request.method == "POST" and name in commands:
                payload = await request.get_json(force=True) or {}
                return await commands[name](**payload)
        except Exception as exc:
            log.exception("control %s failed", name)
            return {"error": repr(exc)}, 500
        return {"error": f"no control command {request.method} {name}"}, 404

    # Control calls skip the authorization hook that BovineHerd registered before this one.
    app.before_request_funcs[None].insert(0, app.before_request_funcs[None].pop())
    return app


# A 16x12 PNG and the first bytes of an MP4: enough for a media cache to take them for what
# they are (the picture decodes; the video's container is recognised).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAMCAIAAADkharWAAAAF0lEQVR4nGM8IWfDQApgIkn1qIYRpAEAtloBOgHmnnkAAAAASUVORK5CYII="
)
MP4 = bytes.fromhex("00000018667479706d70343200000000") + b"mp42isom" + bytes(2000)


# Files the tests stored with /_control/media, by name: (media type, bytes).
STORED_MEDIA: dict[str, tuple[str, bytes]] = {}


def media_file(path: str) -> Any:
    from quart import Response

    stored = STORED_MEDIA.get(path.removeprefix("/_media/"))
    if stored is not None:
        return Response(stored[1], content_type=stored[0])
    if path.endswith(".png"):
        return Response(PNG, content_type="image/png")
    if path.endswith(".mp4"):
        return Response(MP4, content_type="video/mp4")
    return {"error": "no such file"}, 404


def summarise(data: dict[str, Any]) -> dict[str, Any]:
    obj = data.get("object")
    actor = data.get("actor")
    return {
        "type": data.get("type"),
        "id": data.get("id"),
        "actor": actor.get("id") if isinstance(actor, dict) else actor,
        "object": obj.get("id") if isinstance(obj, dict) else obj,
        "json": data,
    }


def escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def serve(args: argparse.Namespace) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    app = build_app(args)
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.accesslog = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("bovine peer for https://%s on http://%s:%s", args.domain, args.host, args.port)
    served = app if args.bench else Recorder(app)
    await hypercorn_serve(served, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    log.info("shut down")


def main() -> None:
    args = parse_args()
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.WARNING if args.bench else logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    os.chdir(args.workdir)  # bovine opens its JSON-LD cache in the working directory on import
    install_offline_contexts()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
