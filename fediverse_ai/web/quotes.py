"""Quote stamps on the web: served at their ids (AS2), listed for their author, revoked.

A stamp's URL is what a quoting post's ``quoteAuthorization`` names; servers fetch it to
check the quote, so a revoked one answers 410 Gone from the moment it is revoked.
"""

from __future__ import annotations

from quart import Quart, Response, request

from .. import as2_out, as2_quote
from ..as2_quote import QuoteStamp
from ..errors import Gone, NotFound
from ..federation import quote_requests
from ..federation.quotes import stamp_url
from ..state import State
from ..storage import actors, notes
from ..storage import quotes as store
from ..storage.quotes import Stamp
from .auth import require_login, safe_next, viewer
from .common import StateHolder, as2_response, see_other
from .objects import as2_viewer
from .pages import render
from .views import cards


async def _stamp(state: State, token: str) -> Stamp:
    stamp = await store.stamp_by_token(state.db, token[:64])
    if stamp is None:
        raise NotFound("no such quote authorization")
    return stamp


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/quote-authorizations/<token>")
    async def stamp_document(token: str) -> Response:
        state = holder.state
        await as2_viewer(state)  # secure mode: signed fetches only
        stamp = await _stamp(state, token)
        if stamp.revoked_at is not None:
            raise Gone("this quote authorization was revoked")
        quoted = await notes.by_id(state.db, stamp.quoted_note_id)
        author = await actors.by_id(state.db, quoted.actor_id) if quoted else None
        if quoted is None or author is None:
            raise Gone("the quoted post was deleted")
        doc = as2_quote.stamp_document(
            QuoteStamp(stamp_url(state, stamp.token), author.uri, stamp.quoting_uri, quoted.uri)
        )
        return as2_response(as2_out.with_context(doc))

    @app.get("/notes/<int:note_id>/quotes")
    async def quotes_page(note_id: int) -> Response:
        state = holder.state
        account = require_login()
        note = await notes.by_id(state.db, note_id)
        if note is None or note.actor_id != account.actor.id:
            raise NotFound("no such post of yours")
        stamps = await store.stamps_of(state.db, note.id)
        people = {s.quoter_uri: await actors.by_uri(state.db, s.quoter_uri) for s in stamps}
        (card,) = await cards(state, [note], viewer())
        return await render(state, "quotes.html", card=card, stamps=stamps, people=people)

    @app.post("/quote-authorizations/<token>/revoke")
    async def revoke(token: str) -> Response:
        state = holder.state
        account = require_login()
        stamp = await _stamp(state, token)
        quoted = await notes.by_id(state.db, stamp.quoted_note_id)
        if quoted is None or quoted.actor_id != account.actor.id:
            raise NotFound("no such quote authorization of yours")
        await quote_requests.revoke(state, account, stamp)
        form = await request.form
        return see_other(safe_next(form.get("next"), f"/notes/{quoted.id}/quotes"), 303)
