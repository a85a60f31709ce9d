"""Creating local actors: the instance actor, the AI actor and human users."""

from __future__ import annotations

import asyncio
import hashlib
import html
import json

from .avatars import render_avatar, render_header
from .config import USERNAME_RE
from .errors import BadRequest
from .keys import key_for_new_account, public_key_pem, read_private_key
from .models import Account, Role
from .passwords import hash_password
from .state import State
from .storage import account_data, account_keys, actors, media, sessions, settings

RESERVED = frozenset({"actor", "admin", "inbox", "instance", "media", "users", "tags", "about"})
# The AI's display name and bio as last taken from the config (JSON [name, bio]).
AI_PROFILE_SETTING = "ai_profile_from_config"
ACTOR_TYPES: dict[Role, str] = {"user": "Person", "ai": "Service", "instance": "Application"}


def bio_html(text: str) -> str:
    paragraphs = [p.strip() for p in text.strip().split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


async def check_username(state: State, username: str) -> None:
    """Refuse a name that is malformed, reserved or taken by a local actor."""
    if not USERNAME_RE.match(username) or len(username) > 30:
        raise BadRequest("usernames are 1-30 of a-z, 0-9, '_', with '.' or '-' inside")
    if username in RESERVED or username == state.config.instance.host:
        raise BadRequest(f"the username {username!r} is reserved")
    if await actors.local_by_username(state.db, username) is not None:
        raise BadRequest(f"the username {username!r} is taken")


async def ensure_account(
    state: State,
    username: str,
    *,
    role: Role,
    display_name: str = "",
    bio: str = "",
    is_admin: bool = False,
) -> Account:
    """Return the local account, creating it (and its key pair) when missing."""
    username = username.lower()
    existing = await actors.account_by_username(state.db, username)
    if existing is not None:
        if await account_data.deleted_at(state.db, existing.actor.id) is not None:
            raise BadRequest(f"the username {username!r} is taken")  # until it is purged
        return existing
    if role != "instance":
        await check_username(state, username)
    key_file = f"{username}.pem"
    private_pem = key_for_new_account(state.key_path(key_file))
    urls = state.urls.actor_urls(username, instance=role == "instance")
    now = state.now()
    async with state.db.write() as conn:
        actor_id = await actors.insert_local(
            conn,
            uri=urls["uri"],
            username=username,
            domain=state.config.instance.host,
            actor_type=ACTOR_TYPES[role],
            display_name=display_name or username,
            summary=bio_html(bio),
            urls=urls,
            public_key_pem=public_key_pem(private_pem),
            now=now,
        )
        await actors.create_account(
            conn,
            actor_id,
            role=role,
            key_file=key_file,
            private_key_pem=private_pem,
            is_admin=is_admin,
            password_hash=None,
            now=now,
        )
    await ensure_profile_images(state, actor_id, seed=urls["uri"])
    account = await actors.account_by_username(state.db, username)
    assert account is not None
    return account


async def ensure_profile_images(state: State, actor_id: int, *, seed: str) -> None:
    """Give a local actor a generated avatar and header (files first, then the rows)."""
    names = {}
    for kind, render, size in (
        ("icon", render_avatar, (400, 400)),
        ("image", render_header, (1500, 500)),
    ):
        name = hashlib.sha256(f"{kind}:{seed}".encode()).hexdigest()[:32] + ".png"
        if not await asyncio.to_thread(state.media.exists, name):
            await asyncio.to_thread(state.media.put, name, render(seed))
        if await media.local_by_file_name(state.db, name) is None:
            await media.insert_profile_image(
                state.db,
                actor_id=actor_id,
                url=state.urls.media(name),
                file_name=name,
                width=size[0],
                height=size[1],
                now=state.now(),
            )
        names[kind] = state.urls.media(name)
    await actors.set_images(state.db, actor_id, icon_url=names["icon"], image_url=names["image"])


async def ensure_builtin_actors(state: State) -> tuple[Account, Account]:
    """The instance actor (signs server GETs) and the AI actor, from the config."""
    instance = await ensure_account(
        state,
        state.config.instance.host,
        role="instance",
        display_name=state.config.instance.name,
        bio=state.config.instance.description,
    )
    ai_conf = state.config.ai
    ai = await ensure_account(
        state, ai_conf.username, role="ai", display_name=ai_conf.display_name, bio=ai_conf.bio
    )
    for account in (instance, ai):
        if account.actor.icon_url is None:
            await ensure_profile_images(state, account.actor.id, seed=account.actor.uri)
    # The config's name and bio are applied when they change, not at every start: an admin
    # who edited the AI's profile on /admin keeps it until the config file says otherwise.
    from_config = json.dumps([ai_conf.display_name, ai_conf.bio])
    applied = (await settings.all_settings(state.db)).get(AI_PROFILE_SETTING)
    differs = ai.actor.display_name != ai_conf.display_name or ai.actor.summary != bio_html(
        ai_conf.bio
    )
    if applied != from_config and (applied is not None or differs):
        await actors.update_local_profile(
            state.db,
            ai.actor.id,
            display_name=ai_conf.display_name,
            summary=bio_html(ai_conf.bio),
            manually_approves=False,
            now=state.now(),
        )
        refreshed = await actors.account_by_username(state.db, ai_conf.username)
        assert refreshed is not None
        ai = refreshed
    if applied != from_config:
        await settings.put(state.db, {AI_PROFILE_SETTING: from_config}, now=state.now())
    return instance, ai


async def import_key_files(state: State) -> tuple[int, list[str]]:
    """Copy into the database every key still only in a file (installations from before
    migration 0027), so that no process needs keys_dir afterwards; `fediverse-ai init` runs it.
    Returns how many were imported and the files that are missing (those accounts cannot sign
    until their file is put back and this runs again, or a process that has it signs once)."""
    imported, missing = 0, []
    for actor_id, key_file in await account_keys.without_key(state.db):
        path = state.key_path(key_file)
        if not path.exists():
            missing.append(str(path))
            continue
        pem = await asyncio.to_thread(read_private_key, path)
        if await account_keys.import_private_key(state.db, actor_id, pem) == pem:
            imported += 1
    return imported, missing


async def set_password(
    state: State, actor_id: int, password: str, *, keep_session: str | None = None
) -> int:
    """Store a new password and sign out every browser that used the old one, but the one
    whose session hash is ``keep_session`` (the browser that changed it); returns how many
    were signed out."""
    await actors.set_password_hash(
        state.db, actor_id, await asyncio.to_thread(hash_password, password)
    )
    return await sessions.delete_for_actor(state.db, actor_id, keep=keep_session)
