"""The ``ai_reply`` job: one mention in, exactly one answer out (or one polite refusal).

Exactly-once rests on two records: the job's dedupe key (one job per mention) and
``ai_replies``, which reserves the answer's status ids before anything is generated.
A retried or restarted job publishes under the same ids, and publishing an id that
exists only re-queues its (deduplicated) deliveries. Whether to answer at all is decided
(and recorded there) by :mod:`.decision` before any generation, on every attempt until
the decision is recorded.

An answer addresses its asker alone, by actor id: whatever the model writes mentions
nobody and links only what the thread already linked (``Draft.audience``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from ..ai.base import BackendError
from ..ai.intent import detect_intent
from ..ai.prompt import build_messages, split_for_posts, strip_markup
from ..content import find_urls, neutralise_mentions
from ..errors import FediverseError
from ..federation import publish
from ..models import Account, Actor, Draft, Note, Visibility
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, ai_replies, notes
from ..urls import new_status_id
from .answers import FAILURE, REFUSAL, Answer, answer_footer, answer_room, withheld
from .context import ancestors, quoted_post
from .decision import decide
from .pictures import EDIT_NOTHING, edit_answer, image_answer
from .reading import read_for
from .seeing import ALT_TEXT_CHARS, CANNOT_SEE, look
from .services import AIServices, get_services

log = logging.getLogger(__name__)


class GenerationFailed(FediverseError):
    """A backend failed in a way worth retrying: the worker reschedules the job."""


async def handle(state: State, payload: dict[str, Any]) -> None:
    mention = await notes.by_uri(state.db, str(payload["note_uri"]))
    if mention is None:
        return  # deleted before we got to it
    attempt = int(payload.get("_attempt", 1))
    ai = await actors.account_by_role(state.db, "ai")
    author = await actors.by_id(state.db, mention.actor_id)
    if ai is None or author is None:
        return
    record = await ai_replies.reserve(
        state.db,
        mention_uri=mention.uri,
        author_uri=author.uri,
        base_status_id=new_status_id(state.now()),
        now=state.now(),
    )
    if record.state != "pending":
        return
    started = time.monotonic()
    if record.decided_at is None:
        reason = await decide(state, mention, author)
        if reason:
            _log_answer(state, mention, "refused", "-", started, reason)
            return
    visibility = reply_visibility(state, mention)
    services = get_services(state)
    backend, kind = _backend_for(state, mention)
    made_by = ai_replies.MadeBy(backend, "", kind, ai_replies.day_of(state.now()))
    try:
        async with services.slots.hold():
            answer = await _generate(state, services, mention, author, ai, visibility)
    except BackendError as exc:
        last = attempt >= state.config.ai_limits.attempts
        if exc.retryable and not last:
            raise GenerationFailed(exc.message) from None
        first = await _publish(state, ai, mention, author, record.base_status_id, Answer([FAILURE]))
        await ai_replies.finish(
            state.db,
            mention.uri,
            state="failed",
            reason=exc.message,
            reply_uri=first,
            now=state.now(),
            made_by=made_by,
        )
        _log_answer(state, mention, "failed", backend, started, exc.message)
        return
    first = await _publish(state, ai, mention, author, record.base_status_id, answer)
    made_by = dataclasses.replace(
        made_by,
        backend=answer.backend or backend,
        model=answer.model,
        intent=answer.intent or kind,
    )
    await ai_replies.finish(
        state.db, mention.uri, state="done", reply_uri=first, now=state.now(), made_by=made_by
    )
    _log_answer(state, mention, "done", backend, started)


def _backend_for(state: State, mention: Note) -> tuple[str, str]:
    """The backend that answers this mention (the image one for pictures and edits), and the
    kind of request."""
    conf = state.config.ai
    asked = html_to_text(mention.content)
    kind = detect_intent(asked, image_words=conf.image_words, edit_words=conf.edit_words).kind
    if kind in ("image", "edit"):
        return state.config.ai_image.backend, kind
    return state.config.ai_text.backend, kind


def _log_answer(
    state: State, mention: Note, outcome: str, backend: str, started: float, reason: str = ""
) -> None:
    """One line per answer (done, failed, refused), and its latency for /metrics."""
    seconds = time.monotonic() - started
    if outcome != "refused":
        state.metrics.observe_ai(outcome, seconds)
    log.log(
        logging.WARNING if outcome == "failed" else logging.INFO,
        "AI answer mention=%s state=%s backend=%s ms=%d%s",
        mention.uri,
        outcome,
        backend,
        round(seconds * 1000),
        f" reason={reason!r}" if reason else "",
    )


async def _generate(
    state: State,
    services: AIServices,
    mention: Note,
    author: Actor,
    ai: Account,
    visibility: Visibility,
) -> Answer:
    conf = state.config.ai
    asked = html_to_text(mention.content)
    intent = detect_intent(asked, image_words=conf.image_words, edit_words=conf.edit_words)
    if services.moderator is not None and intent.prompt:
        verdict = await services.moderator.check_text(intent.prompt)
        if not verdict.allowed:
            return Answer([REFUSAL])
    if intent.kind == "edit":
        edited = await edit_answer(state, services, mention, intent.prompt or "make it beautiful")
        if edited is not None:
            return dataclasses.replace(edited, links=edited.links | frozenset(find_urls(asked)))
        kind = detect_intent(asked, image_words=conf.image_words).kind
        if kind != "image":
            return Answer([EDIT_NOTHING])
        intent = dataclasses.replace(intent, kind="image")
    if intent.kind == "image":
        image = await image_answer(state, services, intent.prompt or "something beautiful")
        return dataclasses.replace(image, links=frozenset(find_urls(asked)))
    history = await ancestors(
        state, mention, ai_actor_id=ai.actor.id, reply=visibility, asker=author
    )
    history += await quoted_post(
        state, mention, ai_actor_id=ai.actor.id, reply=visibility, asker=author
    )
    sight = await look(state, mention, history, asked, vision=services.vision)
    if sight.automatic:
        return await _hints_answer(state, services, mention, sight.refusal)
    if sight.refusal:
        return Answer([sight.refusal], intent="vision")
    reading = await read_for(state, asked, history)
    messages = build_messages(
        system_prompt=conf.system_prompt,
        # An article that mentions the AI: its title is part of what it asks (issue 19).
        request="\n\n".join(
            t
            for t in (mention.title, intent.prompt or "(an empty message: greet them briefly)")
            if t
        ),
        ancestors=history,
        context_chars=conf.context_chars,
        pages=reading.pages,
        notes=[*reading.notes, *sight.notes],
        images=sight.images,
    )
    result = await services.text.complete(messages, max_tokens=state.config.ai_text.max_tokens)
    # The prompt's markup first: a model that echoes a marker must not publish it, and the
    # checks below must see the text as it will be published.
    text = strip_markup(result.text).strip() or "…"
    if withheld(state, services, text, mention.uri):
        return Answer([REFUSAL])
    if services.moderator is not None:
        verdict = await services.moderator.check_text(text)
        if not verdict.allowed:
            return Answer([REFUSAL])
    if sight.alt_text:
        text = (
            f"Alt text, to copy into the picture's description:\n\n{text[:ALT_TEXT_CHARS]}"
            "\n\n(Nothing was changed on the original post.)"
        )
    if reading.lead:
        text = f"{reading.lead}\n\n{text}"
    room = answer_room(state) - len(reading.source)
    # Alt text is one post, whatever ai.post_chars says: it is there to be copied whole.
    posts = 1 if sight.alt_text else conf.max_posts_per_reply
    room = max(room, ALT_TEXT_CHARS + 200) if sight.alt_text else room
    parts = split_for_posts(text, limit=room, max_posts=posts)
    seen = [asked, *(post.text for post in history)]
    links = frozenset(url for source in seen for url in find_urls(source)) | reading.links
    footer = "\n".join(
        x for x in (reading.source, answer_footer(state, result.backend, result.model)) if x
    )
    return Answer(
        parts,
        footer=footer,
        links=links,
        backend=result.backend,
        model=result.model,
        intent="vision" if sight.images or sight.alt_text else "",
    )


async def _hints_answer(state: State, services: AIServices, mention: Note, text: str) -> Answer:
    # The text read in a picture is anyone's words: the same checks as a model's answer.
    if withheld(state, services, text, mention.uri):
        return Answer([CANNOT_SEE], intent="vision")
    if services.moderator is not None and not (await services.moderator.check_text(text)).allowed:
        return Answer([CANNOT_SEE], intent="vision")
    footer = "🤖 Automatic hints (offline: EfficientNet-Lite0 labels, Tesseract OCR)"
    parts = split_for_posts(
        text, limit=answer_room(state), max_posts=state.config.ai.max_posts_per_reply
    )
    return Answer(
        parts,
        footer=footer if state.config.ai.footer else "",
        backend="offline",
        model="EfficientNet-Lite0 + Tesseract",
        intent="vision",
    )


def reply_visibility(state: State, mention: Note) -> Visibility:
    """Never wider than the mention; public mentions get the configured public level."""
    if mention.visibility == "public":
        return "public" if state.config.ai.public_reply_visibility == "public" else "unlisted"
    return mention.visibility


async def _publish(
    state: State,
    ai: Account,
    mention: Note,
    author: Actor,
    base_status_id: str,
    answer: Answer,
) -> str:
    """Publish the answer as a self-threaded chain under the reserved ids; returns the first id.

    Each post addresses the asker alone, by actor id (the publisher writes their h-card).
    """
    visibility = reply_visibility(state, mention)
    in_reply_to = mention.uri
    first_uri = ""
    for index, part in enumerate(answer.parts):
        text = part
        if index == len(answer.parts) - 1 and answer.footer:
            text += f"\n\n{answer.footer}"
        draft = Draft(
            text=text,
            visibility=visibility,
            summary=mention.summary,
            language=mention.language,
            in_reply_to=in_reply_to,
            attachments=(answer.attachment,) if answer.attachment and index == 0 else (),
            ai_generated=True,
            sensitive=answer.sensitive and index == 0,
            audience=(author.uri,),
            link_urls=answer.links,
        )
        status_id = str(int(base_status_id) + index)
        note = await publish.publish_note(state, ai, draft, status_id=status_id)
        first_uri = first_uri or note.uri
        in_reply_to = note.uri
    return first_uri


async def compose_own_post(
    state: State, *, image_prompt: str | None, text_prompt: str | None
) -> Answer:
    """Content for a post of the AI actor's own (`post --image` / `post --generate`)."""
    services = get_services(state)
    prompt = image_prompt or text_prompt or ""
    if services.moderator is not None:
        verdict = await services.moderator.check_text(prompt)
        if not verdict.allowed:
            raise FediverseError("the prompt did not pass the moderation check")
    async with services.slots.hold():
        if image_prompt:
            return await image_answer(state, services, image_prompt)
        messages = build_messages(
            system_prompt=state.config.ai.system_prompt,
            request=prompt,
            ancestors=[],
            context_chars=0,
        )
        result = await services.text.complete(messages, max_tokens=state.config.ai_text.max_tokens)
    # Published as the operator's own post, whose mentions are resolved: the model's are not.
    text = neutralise_mentions(strip_markup(result.text).strip())
    if withheld(state, services, text, "a post of the AI's own"):
        raise FediverseError(
            "the generated text was withheld: it repeated its instructions or a secret"
        )
    return Answer(
        [text[: state.config.ai.post_chars - 120]],
        footer=answer_footer(state, result.backend, result.model),
    )
