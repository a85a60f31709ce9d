"""Local custom emoji on the web: their pictures, their AS2 objects, and the admin's form.

``/emojis/<shortcode>`` is the ``id`` of the ``Emoji`` tag our posts carry (peers may fetch
it); ``/media/emoji/<file>`` is its picture, a PNG we re-encoded on upload.
"""

from __future__ import annotations

import contextlib

from quart import Quart, Response, request

from .. import custom_emoji
from ..as2_emoji import SHORTCODE_RE
from ..emoji_image import MAX_BYTES
from ..errors import FediverseError, NotFound
from ..storage import custom_emojis
from . import stored_files
from .admin import admin_page
from .auth import require_admin
from .common import StateHolder, as2_response, see_other
from .objects import as2_viewer


def register(app: Quart, holder: StateHolder) -> None:
    @app.get(f"{custom_emoji.LOCAL_PATH}<name>")
    async def emoji_file(name: str) -> Response:
        state = holder.state
        found = (
            await custom_emojis.by_file_name(state.db, name)
            if custom_emoji.LOCAL_FILE_RE.fullmatch(name)
            else None
        )
        if found is None:
            raise NotFound("no such emoji")
        return await stored_files.serve(
            state, custom_emoji.emoji_key(name), media_type=found.media_type, cors=True
        )

    @app.get("/emojis/<shortcode>")
    async def emoji_object(shortcode: str) -> Response:
        state = holder.state
        await as2_viewer(state)
        found = (
            await custom_emojis.by_shortcode(state.db, shortcode)
            if SHORTCODE_RE.fullmatch(shortcode)
            else None
        )
        if found is None or found.shortcode != shortcode:
            raise NotFound("no such emoji")
        return as2_response(custom_emoji.local_object(state, found))

    @app.post("/admin/emoji")
    async def add_emoji() -> Response:
        state = holder.state
        require_admin()
        form = await request.form
        upload = (await request.files).get("image")
        shortcode = form.get("shortcode", "").strip().strip(":")
        data = upload.read(MAX_BYTES + 1) if upload is not None else b""
        if not data:
            return await admin_page(state, error="choose a PNG, GIF or WebP picture")
        try:
            await custom_emoji.add_local(state, shortcode, data, category=form.get("category"))
        except FediverseError as exc:
            return await admin_page(state, error=exc.message)
        return see_other("/admin#emoji", 303)

    @app.post("/admin/emoji/remove")
    async def remove_emoji() -> Response:
        state = holder.state
        require_admin()
        shortcode = (await request.form).get("shortcode", "")
        if SHORTCODE_RE.fullmatch(shortcode):
            # Removed twice (two tabs): the page shows it gone either way.
            with contextlib.suppress(NotFound):
                await custom_emoji.remove_local(state, shortcode)
        return see_other("/admin#emoji", 303)
