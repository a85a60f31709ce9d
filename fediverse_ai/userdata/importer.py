"""Importing an archive (ours, or Mastodon's of the same shape) into a local account.

Each ``Create`` of a post in ``outbox.json`` becomes a local post of the account with its
original date, text, content warning, language, visibility, hashtags and pictures with their
alt text. Nothing is sent: the posts were federated once from their first home, and sending
years of posts again would flood every follower. Boosts, polls and replies' threads are not
recreated (a reply keeps its ``inReplyTo``).

``federate=True`` (``--federate``) sends each new post's ``Create`` to the account's followers
after all, for an account that moved here with its followers.

The archive is untrusted input: entries are read within byte caps, the HTML is sanitised, every
picture goes through the media pipeline (Pillow, pixel caps) and is stored as it was only when
the pipeline would not change it (same format and size, no EXIF), else as re-encoded. Running
the import twice adds nothing the second time: a post's new id is derived from its old one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
import secrets
import sqlite3
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image

from ..addressing import address, infer_visibility
from ..content import find_hashtags
from ..errors import BadRequest, FediverseError
from ..federation import publish
from ..media import process_image
from ..models import Account, NewAttachment
from ..sanitize import html_to_text, sanitize_html
from ..state import State
from ..storage import embeddings, media, notes
from ..storage.notes import NoteRow
from ..vocab import as_list, format_time, parse_time, str_or_none, type_of

MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_POSTS = 100_000
MAX_TEXT_CHARS = 100_000  # a post's HTML; longer ones are skipped rather than cut mid-tag
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


@dataclass
class ImportResult:
    posts: int = 0
    skipped: int = 0  # already imported, or not a post we recreate
    pictures: int = 0
    refused_pictures: int = 0  # left out: not pictures, over the caps, or missing
    note_ids: list[int] = field(default_factory=list)  # the posts made, oldest first


def _read(archive: zipfile.ZipFile, name: str, cap: int) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > cap:
        raise BadRequest(f"{name} is larger than {cap} bytes")
    with archive.open(info) as f:
        data = f.read(cap + 1)  # the header's size may lie
    if len(data) > cap:
        raise BadRequest(f"{name} is larger than {cap} bytes")
    return data


def _json(archive: zipfile.ZipFile, name: str) -> Any:
    data = _read(archive, name, MAX_JSON_BYTES)
    if data is None:
        raise BadRequest(f"the archive has no {name}")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise BadRequest(f"{name} is not JSON") from None


def _picture(data: bytes, description: str) -> NewAttachment:
    """Validated by the media pipeline; the original bytes when it would not change them."""
    processed = process_image(data).as_attachment(description)
    with Image.open(io.BytesIO(data)) as img:
        same = (
            img.format in _FORMATS
            and _FORMATS[img.format] == processed.media_type
            and img.size == (processed.width, processed.height)
            and not img.getexif()
        )
    return dataclasses.replace(processed, data=data) if same else processed


def _pictures(archive: zipfile.ZipFile, obj: dict[str, Any]) -> tuple[list[NewAttachment], int]:
    """The post's pictures that pass the pipeline, and how many were left out (a video, a file
    that is not a picture, one over the caps): the post is imported without them."""
    found = []
    refused = 0
    for item in as_list(obj.get("attachment"))[:4]:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        # An archive path (ours, or Mastodon's with /system/ dropped), never outside it.
        name = PurePosixPath(item["url"].lstrip("/")).as_posix()
        if ".." in name.split("/"):
            refused += 1
            continue
        alt = str_or_none(item.get("name")) or str_or_none(item.get("summary")) or ""
        try:
            data = _read(archive, name, MAX_FILE_BYTES)
            if data is None:
                refused += 1
                continue
            found.append(_picture(data, alt[:1500]))
        except FediverseError:
            refused += 1
    return found, refused


def status_id_for(original_id: str, published: float) -> str:
    """Time-ordered like our ids, and the same for the same original post (imports repeat).

    Archives date posts to the second, so the posts of one second differ only by the hash:
    32 bits of it (ours carry 16 random bits) keep a busy second's posts apart."""
    bits = int.from_bytes(hashlib.sha256(original_id.encode()).digest()[:4], "big")
    return str((int(published * 1000) << 32) | bits)


def _row(state: State, account: Account, obj: dict[str, Any], now: float) -> NoteRow | None:
    original = str_or_none(obj.get("id"))
    published = parse_time(obj.get("published"))
    if original is None or published is None or published > now + 86_400:
        return None
    if any(len(str(obj.get(k) or "")) > MAX_TEXT_CHARS for k in ("content", "summary")):
        return None
    author = account.actor
    status_id = status_id_for(original, published)
    followers = str_or_none(obj.get("_followers")) or ""
    visibility = infer_visibility(
        [x for x in as_list(obj.get("to")) if isinstance(x, str)],
        [x for x in as_list(obj.get("cc")) if isinstance(x, str)],
        followers_url=followers or None,
    )
    content = sanitize_html(str_or_none(obj.get("content")) or "")
    source_doc = obj.get("source")
    source = source_doc.get("content") if isinstance(source_doc, dict) else None
    text = source[:MAX_TEXT_CHARS] if isinstance(source, str) else html_to_text(content)
    mentioned = [
        str(t["href"])
        for t in as_list(obj.get("tag"))
        if isinstance(t, dict) and t.get("type") == "Mention" and isinstance(t.get("href"), str)
    ]
    to, cc = address(visibility, followers_url=author.followers_url or "", mentioned=mentioned)
    hashtags = find_hashtags(text)
    tags = [
        {"type": "Hashtag", "href": state.urls.tag(h), "name": f"#{h.lower()}"} for h in hashtags
    ]
    content_map = obj.get("contentMap")
    language = next(iter(content_map), None) if isinstance(content_map, dict) else None
    uri = state.urls.note(author.username, status_id)
    return NoteRow(
        uri=uri,
        actor_id=author.id,
        local=True,
        url=state.urls.note_html(author.username, status_id),
        content=content,
        source=text,
        summary=str_or_none(obj.get("summary")) or None,
        sensitive=obj.get("sensitive") is True,
        language=language if isinstance(language, str) and len(language) <= 16 else None,
        visibility=visibility,
        in_reply_to_uri=str_or_none(obj.get("inReplyTo")),
        context_uri=uri,
        to=to,
        cc=cc,
        tags=tags,
        mentions=mentioned,
        hashtags=hashtags,
        published=published,
        published_text=format_time(published),
    )


async def import_archive(
    state: State, account: Account, path: Path, *, federate: bool = False
) -> ImportResult:
    """Recreate the archive's posts and pictures as the account's own (sent only with
    ``federate``)."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BadRequest(f"not a zip archive: {exc}") from None
    result = ImportResult()
    with archive:
        outbox = _json(archive, "outbox.json")
        actor = _json(archive, "actor.json")
        items = outbox.get("orderedItems") if isinstance(outbox, dict) else None
        if not isinstance(items, list):
            raise BadRequest("outbox.json is not an OrderedCollection")
        followers = actor.get("followers") if isinstance(actor, dict) else None
        for item in items[:MAX_POSTS]:
            obj = item.get("object") if isinstance(item, dict) else None
            if type_of(item) != "Create" or not isinstance(obj, dict):
                result.skipped += 1
                continue
            if type_of(obj) not in ("Note", "Article", "Question"):
                result.skipped += 1
                continue
            obj = {**obj, "_followers": followers if isinstance(followers, str) else None}
            now = state.now()
            row = _row(state, account, obj, now)
            if row is None or await notes.by_uri(state.db, row.uri) is not None:
                result.skipped += 1
                continue
            pictures, refused = await asyncio.to_thread(_pictures, archive, obj)
            result.refused_pictures += refused
            note_id = await _store(state, account, row, pictures, now=now)
            if note_id is not None:
                result.posts += 1
                result.pictures += len(pictures)
                result.note_ids.append(note_id)
            else:
                result.skipped += 1
    if federate:
        for note_id in result.note_ids:
            note = await notes.by_id(state.db, note_id)
            if note is not None:
                await publish.send_note_activity(state, account, note, "Create")
    return result


async def _store(
    state: State, account: Account, row: NoteRow, pictures: list[NewAttachment], *, now: float
) -> int | None:
    names = []
    for picture in pictures:
        name = f"{secrets.token_hex(16)}.{picture.extension}"
        await asyncio.to_thread(state.media.put, name, picture.data)
        names.append(name)

    def work(conn: sqlite3.Connection) -> int | None:
        note_id = notes.insert(conn, row, now=now)
        if note_id is None:
            return None
        for position, (picture, name) in enumerate(zip(pictures, names, strict=True)):
            media.insert_local(
                conn,
                picture,
                note_id=note_id,
                actor_id=account.actor.id,
                position=position,
                url=state.urls.media(name),
                file_name=name,
                now=now,
            )
        # For-you ranks only its window: older posts would be embedded for nothing.
        if row.published >= now - state.config.ai_foryou.window_days * 86_400:
            embeddings.queue_in(conn, note_id, row.visibility, now=now, version=None)
        return note_id

    stored = await state.db.transaction(work)
    if stored is None:
        await asyncio.to_thread(state.media.delete, names)
    return stored
