"""An account's archive: a zip in the layout of Mastodon's "request your archive".

- ``actor.json``: the actor document, its ``icon``/``image`` urls naming ``avatar.EXT`` and
  ``header.EXT`` in the archive, and ``outbox``, ``likes``, ``bookmarks`` naming the files;
- ``outbox.json``: an OrderedCollection of the account's posts, oldest first, each as the
  ``Create`` we federate (without its ``@context``), each attachment's ``url`` rewritten to the
  archive path of its file, ``media_attachments/files/NAME``; the object also carries
  ``source`` (the text as written), which ActivityStreams defines and our import reads back;
- ``likes.json``, ``bookmarks.json``: OrderedCollections of the ids of liked (bookmarked) posts.

Built by the ``export_account`` job for the web (the owner gets a download link) or directly by
``fediverse-ai user export``. The file is written beside its final name and renamed, so a crash
leaves no half archive under a name that is offered for download.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from .. import as2_out
from ..errors import BadRequest
from ..federation.publish import note_json
from ..media_store import MediaStore
from ..models import Account, Actor, Note
from ..state import State
from ..storage import account_data, actors, media
from ..vocab import CONTEXT
from .deletion import export_path

log = logging.getLogger(__name__)

EXPORT_JOB = account_data.EXPORT_JOB
MEDIA_PREFIX = "media_attachments/files/"


@dataclass(frozen=True)
class StoredMedia:
    """A file of the media store, read when the archive is written."""

    key: str


# One file to write: (name in the archive, bytes) or (name, a file of the media store).
Entry = tuple[str, bytes | StoredMedia]


def _collection(name: str, items: list[Any]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "id": name,
        "type": "OrderedCollection",
        "totalItems": len(items),
        "orderedItems": items,
    }


async def _local_file(state: State, url: str | None) -> StoredMedia | None:
    """The file behind one of our media urls, if it is ours and still there."""
    if not url or not state.urls.is_local(url):
        return None
    name = PurePosixPath(urlsplit(url).path).name
    try:
        found = bool(name) and await asyncio.to_thread(state.media.exists, name)
    except ValueError:  # not a name of ours
        return None
    return StoredMedia(name) if found else None


async def _post(state: State, note: Note, author: Actor, files: list[Entry]) -> dict[str, Any]:
    obj = await note_json(state, note, author)
    attached = {m.url: m for m in await media.for_note(state.db, note.id)}
    for item in obj.get("attachment", []):
        found = attached.get(item.get("url", ""))
        stored = await _local_file(state, found.url) if found and found.file_name else None
        if stored is not None:
            item["url"] = MEDIA_PREFIX + stored.key
            files.append((item["url"], stored))
    if note.source is not None:
        obj["source"] = {"content": note.source, "mediaType": "text/plain"}
    return as2_out.outbox_create(note, obj)


async def entries(state: State, account: Account) -> list[Entry]:
    """Everything the archive holds, read from the database (files are read when written)."""
    actor = account.actor
    files: list[Entry] = []
    posts = [
        await _post(state, n, actor, files)
        for n in await account_data.own_notes(state.db, actor.id)
    ]
    doc = as2_out.actor_document(actor, webfinger=f"{actor.username}@{state.config.instance.host}")
    for key, stem in (("icon", "avatar"), ("image", "header")):
        stored = await _local_file(state, doc.get(key, {}).get("url"))
        if stored is not None:
            doc[key]["url"] = stem + PurePosixPath(stored.key).suffix
            files.append((doc[key]["url"], stored))
        else:
            doc.pop(key, None)
    doc |= {"outbox": "outbox.json", "likes": "likes.json", "bookmarks": "bookmarks.json"}
    likes = await account_data.liked_uris(state.db, actor.id)
    bookmarks = await account_data.bookmarked_uris(state.db, actor.id)
    return [
        ("actor.json", _dump(doc)),
        ("outbox.json", _dump(_collection("outbox.json", posts))),
        ("likes.json", _dump(_collection("likes.json", likes))),
        ("bookmarks.json", _dump(_collection("bookmarks.json", bookmarks))),
        *dict(files).items(),  # a file attached twice is stored once
    ]


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def write_zip(target: Path, items: list[Entry], store: MediaStore) -> int:
    """Write the archive to ``target`` (atomically); returns its size in bytes. Blocking
    (the files are read from the store one at a time): run in a thread."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, content in items:
            # Pictures are compressed already: stored as they are, the JSON deflated.
            method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            if isinstance(content, StoredMedia):
                kept = store.get(content.key)
                if kept is None:  # deleted meanwhile: the post lists it, nothing more
                    log.info("archive: %s vanished while it was written", content.key)
                    continue
                data = kept
            else:
                data = content
            archive.writestr(name, data, compress_type=method)
    os.chmod(partial, 0o600)
    partial.replace(target)
    return target.stat().st_size


async def export_to(state: State, account: Account, target: Path) -> int:
    """Build ``account``'s archive at ``target``; returns its size."""
    items = await entries(state, account)
    return await asyncio.to_thread(write_zip, target, items, state.media)


async def build(state: State, payload: dict[str, Any]) -> None:
    """Job: build the archive a user asked for on /settings/export (idempotent: rebuilt)."""
    token = payload.get("token")
    if not isinstance(token, str) or not token.isalnum():
        raise BadRequest("export_account: token must be alphanumeric")
    owner = await account_data.export_owner(state.db, token)
    account = await actors.account_by_actor_id(state.db, owner) if owner is not None else None
    if account is None or await account_data.deleted_at(state.db, account.actor.id) is not None:
        return
    try:
        size: int | None = await export_to(state, account, export_path(state, token))
    except OSError as exc:  # a full disk: say so on the page rather than retry for days
        log.warning("archive %s failed: %s", token, exc)
        size = None
    await account_data.finish_export(state.db, token, size=size, now=state.now())
    if size is not None:  # one archive per account on disk: the new one replaces the others
        for old in await account_data.older_exports(state.db, account.actor.id, token):
            export_path(state, old).unlink(missing_ok=True)
            await account_data.forget_export(state.db, old)
