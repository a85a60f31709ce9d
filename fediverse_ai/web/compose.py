"""Writing: compose (text, up to 4 images with alt text, CW, visibility, replies), the
"Suggest" drafting help, "Ask @ai about this", and editing one's own posts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quart import Quart, Response, request

from ..ai.base import BackendError
from ..as2_quote import QUOTE_POLICIES
from ..errors import BadRequest, FediverseError, NotFound, TooManyRequests
from ..federation import note_changes, publish
from ..models import VISIBILITIES, Account, Draft, Media, NewAttachment, Note, Visibility
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, notes, timelines
from ..storage.ai_replies import take_token
from .auth import require_login, safe_next, viewer
from .common import StateHolder, see_other, with_notice
from .compose_uploads import MAX_IMAGE_BYTES as MAX_IMAGE_BYTES  # the client API's cap too
from .compose_uploads import MAX_IMAGES, as_attachments, kept_ids, read_images
from .pages import render
from .polls import DEFAULT_DURATION, DURATIONS, POLL_FIELDS, read_poll_form
from .views import cards

SUGGEST_BURST = 10.0
SUGGEST_PER_SECOND = 20 / 3600
IMAGEGEN_BURST = 5.0
IMAGEGEN_PER_SECOND = 10 / 3600


@dataclass
class Form:
    """What the user typed, kept to re-show the form after an error or a suggestion."""

    text: str = ""
    summary: str = ""
    visibility: str = "public"
    in_reply_to: str = ""
    language: str = ""
    image_prompt: str = ""
    alts: list[str] = field(default_factory=lambda: [""] * MAX_IMAGES)
    poll: dict[str, str] = field(default_factory=dict)  # the poll fields, as typed
    quote: str = ""  # the id of the post quoted
    quote_policy: str = ""  # who may quote this post; empty: the default for its visibility
    kept: list[int | None] = field(default_factory=lambda: [None] * MAX_IMAGES)  # uploads


def narrowest(a: str, b: str) -> Visibility:
    """Replies are never wider than what they answer."""
    rank: dict[str, int] = {v: i for i, v in enumerate(VISIBILITIES)}
    return VISIBILITIES[max(rank.get(a, 0), rank.get(b, 0))]


async def _parent(state: State, uri: str) -> Note | None:
    if not uri:
        return None
    note = await notes.by_uri(state.db, uri)
    v = viewer()
    if note is None or not await timelines.viewer_can_see(state.db, note, v.actor_id, v.actor_uri):
        raise NotFound("the post you reply to is not here")
    return note


async def _prefill(state: State, account: Account, parent: Note | None, ask: bool) -> Form:
    form = Form()
    if parent is None:
        return form
    form.in_reply_to = parent.uri
    form.visibility = narrowest(parent.visibility, "public")
    form.summary = parent.summary or ""
    handles = []
    author = await actors.by_id(state.db, parent.actor_id)
    ai = await actors.account_by_role(state.db, "ai")
    if ask and ai is not None:
        handles.append(f"@{ai.actor.username}")
    if (
        author is not None
        and author.id != account.actor.id
        and (ai is None or author.id != ai.actor.id)
    ):
        host = author.domain.split(":")[0]
        handles.append(f"@{author.username}" if author.local else f"@{author.username}@{host}")
    form.text = " ".join(handles) + (" " if handles else "")
    return form


async def _render_compose(
    state: State,
    form: Form,
    *,
    parent: Note | None,
    ask: bool = False,
    error: str | None = None,
    suggestion: Any = None,
    status: int = 200,
    quoted: Note | None = None,
    images: Sequence[Media | None] = (),
    field_errors: dict[str, str] | None = None,
) -> Response:
    v = viewer()
    return await render(
        state,
        "compose.html",
        status=status,
        form=form,
        parent=(await cards(state, [parent], v))[0] if parent else None,
        quoted=(await cards(state, [quoted], v, nested=True))[0] if quoted else None,
        quote_policies=QUOTE_POLICIES,
        ask=ask,
        error=error,
        suggestion=suggestion,
        visibilities=VISIBILITIES,
        require_alt=state.config.web.require_alt_text,
        max_images=MAX_IMAGES,
        poll_durations=DURATIONS,
        default_duration=DEFAULT_DURATION,
        images=list(images) + [None] * (MAX_IMAGES - len(images)),
        field_errors=field_errors or {},
    )


def _read_form(raw: Any) -> Form:
    vis = raw.get("visibility", "public")
    return Form(
        text=raw.get("text", "")[:10_000],
        summary=raw.get("summary", "").strip()[:500],
        visibility=vis if vis in VISIBILITIES else "public",
        in_reply_to=raw.get("in_reply_to", "").strip()[:2000],
        language=raw.get("language", "").strip()[:8],
        image_prompt=raw.get("image_prompt", "").strip()[:1000],
        alts=[raw.get(f"alt{i}", "").strip()[:1500] for i in range(MAX_IMAGES)],
        poll={k: str(raw.get(k, ""))[:200] for k in POLL_FIELDS},
        quote=raw.get("quote", "").strip()[:2000],
        quote_policy=policy if (policy := raw.get("quote_policy", "")) in QUOTE_POLICIES else "",
        kept=kept_ids(raw),
    )


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/compose")
    async def compose_form() -> Response:
        state = holder.state
        account = require_login()
        parent = await _parent(state, request.args.get("reply_to", ""))
        ask = request.args.get("ask") == "1"
        form = await _prefill(state, account, parent, ask)
        quoted = await _parent(state, request.args.get("quote", ""))
        form.quote = quoted.uri if quoted else ""
        return await _render_compose(state, form, parent=parent, ask=ask, quoted=quoted)

    @app.post("/compose")
    async def compose_submit() -> Response:
        state = holder.state
        account = require_login()
        raw = await request.form
        files = await request.files
        form = _read_form(raw)
        parent = await _parent(state, form.in_reply_to)
        quoted = await _parent(state, form.quote)
        ask = raw.get("ask") == "1"
        suggest = raw.get("action") == "suggest"
        images, field_errors = await read_images(
            state, account, files, form.kept, form.alts, check_alt=not suggest
        )
        form.kept = [m.id if m else None for m in images]
        if suggest:
            return await _suggest(state, account, form, parent, ask, images)
        if field_errors:
            return await _render_compose(
                state,
                form,
                parent=parent,
                ask=ask,
                status=400,
                quoted=quoted,
                images=images,
                field_errors=field_errors,
            )
        try:
            attachments = await as_attachments(state, images, form.alts)
            sensitive = bool(form.summary)
            if form.image_prompt:
                generated, flagged = await _generate_image(state, account, form.image_prompt)
                attachments.insert(0, generated)
                sensitive = sensitive or flagged
            if len(attachments) > MAX_IMAGES:
                raise BadRequest(f"at most {MAX_IMAGES} images per post")
            visibility: Visibility = form.visibility  # type: ignore[assignment]
            if parent is not None:
                visibility = narrowest(parent.visibility, visibility)
            note = await publish.publish_note(
                state,
                account,
                Draft(
                    text=form.text,
                    visibility=visibility,
                    summary=form.summary or None,
                    language=form.language or None,
                    in_reply_to=parent.uri if parent else None,
                    attachments=tuple(attachments),
                    sensitive=sensitive,
                    poll=read_poll_form(form.poll),
                    quote=quoted.uri if quoted else None,
                    quote_policy=form.quote_policy or None,
                ),
            )
        except (BadRequest, FediverseError) as exc:
            if exc.status >= 500:
                raise
            return await _render_compose(
                state,
                form,
                parent=parent,
                ask=ask,
                error=exc.message,
                status=exc.status,
                quoted=quoted,
                images=images,
            )
        target = (note.url or note.uri).removeprefix(state.config.instance.base_url)
        if parent is not None:
            target = f"/notes/{parent.id}"
        return see_other(with_notice(target, "asked" if ask else "posted"), 303)

    @app.get("/edit/<int:note_id>")
    async def edit_form(note_id: int) -> Response:
        state = holder.state
        account = require_login()
        note = await _own(state, account, note_id)
        form = Form(text=note.source or html_to_text(note.content), in_reply_to="")
        return await render(state, "edit.html", note=note, form=form, error=None)

    @app.post("/edit/<int:note_id>")
    async def edit_submit(note_id: int) -> Response:
        state = holder.state
        account = require_login()
        note = await _own(state, account, note_id)
        text = (await request.form).get("text", "")
        try:
            await note_changes.edit_note(state, account, note.uri, text)
        except BadRequest as exc:
            return await render(
                state, "edit.html", status=400, note=note, form=Form(text=text), error=exc.message
            )
        return see_other(f"/notes/{note.id}", 303)

    @app.get("/notes/<int:note_id>/delete")
    async def confirm_delete(note_id: int) -> Response:
        """The Delete button's question: a deletion reaches other servers and is for good."""
        state = holder.state
        account = require_login()
        note = await _own(state, account, note_id)
        back = safe_next(request.args.get("next"), f"/notes/{note_id}")
        [card] = await cards(state, [note], viewer())
        return await render(state, "delete.html", card=card, note=note, back=back)


async def _own(state: State, account: Account, note_id: int) -> Note:
    note = await notes.by_id(state.db, note_id)
    if note is None or note.actor_id != account.actor.id:
        raise NotFound("no such post of yours")
    return note


async def _generate_image(
    state: State, account: Account, prompt: str
) -> tuple[NewAttachment, bool]:
    """An AI image for the user's own post: moderated, labelled, rate-limited per account."""
    from ..bot.replier import compose_own_post

    allowed = await take_token(
        state.db,
        f"imagegen:{account.actor.id}",
        capacity=IMAGEGEN_BURST,
        per_second=IMAGEGEN_PER_SECOND,
        now=state.now(),
    )
    if not allowed:
        raise TooManyRequests("image generation is limited to 10 pictures an hour")
    try:
        answer = await compose_own_post(state, image_prompt=prompt, text_prompt=None)
    except BackendError as exc:
        raise BadRequest(f"the image backend did not answer: {exc.message}") from None
    except FediverseError as exc:  # the prompt failed moderation
        raise BadRequest(exc.message) from None
    if answer.attachment is None:
        raise BadRequest("the generated picture did not pass the safety check")
    return answer.attachment, answer.sensitive


async def _suggest(
    state: State,
    account: Account,
    form: Form,
    parent: Note | None,
    ask: bool,
    images: Sequence[Media | None],
) -> Response:
    from ..bot.suggest import suggest_post

    allowed = await take_token(
        state.db,
        f"suggest:{account.actor.id}",
        capacity=SUGGEST_BURST,
        per_second=SUGGEST_PER_SECOND,
        now=state.now(),
    )
    error = None
    suggestion = None
    try:
        if not allowed:
            raise TooManyRequests("drafting help is limited to 20 suggestions an hour")
        suggestion = await suggest_post(state, form.text)
    except TooManyRequests as exc:
        error = exc.message
    except BackendError as exc:
        error = f"the text backend did not answer: {exc.message}"
    return await _render_compose(
        state, form, parent=parent, ask=ask, error=error, suggestion=suggestion, images=images
    )
