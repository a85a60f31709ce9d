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

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from ..ai.base import BackendError, ImageResult
from ..ai.intent import detect_intent
from ..ai.leaks import leak_reason
from ..ai.prompt import build_messages, split_for_posts, strip_markup
from ..content import find_urls, neutralise_mentions
from ..errors import FediverseError, PayloadTooLarge, UnsupportedMedia
from ..federation import publish
from ..media import process_image
from ..models import Account, Actor, Draft, NewAttachment, Note, Visibility
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, ai_replies, notes
from ..urls import new_status_id
from .context import ancestors, describe, quoted_post
from .decision import decide
from .editing import find_sources, load_png
from .reading import read_for
from .seeing import ALT_TEXT_CHARS, look
from .services import AIServices, get_services

log = logging.getLogger(__name__)

REFUSAL = "Sorry, I can't help with that request."
EDIT_OTHERS = (
    "I only edit pictures posted by the person asking, and this one was posted by {who}. "
    "Share a picture of your own and ask again."
)
EDIT_NOTHING = "To edit a picture, post it with your request, or answer your own post that has it."
FAILURE = (
    "Sorry, I couldn't answer this time: my generator is not available. Please try again later."
)


@dataclass(frozen=True)
class Answer:
    parts: list[str]
    attachment: NewAttachment | None = None
    footer: str = ""
    sensitive: bool = False
    links: frozenset[str] = frozenset()  # URLs the answer may link: those of the thread


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
    if record.decided_at is None:
        reason = await decide(state, mention, author)
        if reason:
            log.info("not answering %s: %s", mention.uri, reason)
            return
    visibility = reply_visibility(state, mention)
    services = get_services(state)
    try:
        async with services.semaphore:
            answer = await _generate(state, services, mention, author, ai, visibility)
    except BackendError as exc:
        last = attempt >= state.config.ai_limits.attempts
        if exc.retryable and not last:
            raise GenerationFailed(exc.message) from None
        log.warning("answer to %s failed for good: %s", mention.uri, exc.message)
        await _publish(state, ai, mention, author, record.base_status_id, Answer([FAILURE]))
        await ai_replies.finish(
            state.db, mention.uri, state="failed", reason=exc.message, now=state.now()
        )
        return
    first = await _publish(state, ai, mention, author, record.base_status_id, answer)
    await ai_replies.finish(state.db, mention.uri, state="done", reply_uri=first, now=state.now())


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
        edited = await _edit(state, services, mention, intent.prompt or "make it beautiful")
        if edited is not None:
            return dataclasses.replace(edited, links=edited.links | frozenset(find_urls(asked)))
        kind = detect_intent(asked, image_words=conf.image_words).kind
        if kind != "image":
            return Answer([EDIT_NOTHING])
        intent = dataclasses.replace(intent, kind="image")
    if intent.kind == "image":
        image = await _image(state, services, intent.prompt or "something beautiful")
        return dataclasses.replace(image, links=frozenset(find_urls(asked)))
    history = await ancestors(
        state, mention, ai_actor_id=ai.actor.id, reply=visibility, asker=author
    )
    history += await quoted_post(
        state, mention, ai_actor_id=ai.actor.id, reply=visibility, asker=author
    )
    sight = await look(state, mention, history, asked)
    if sight.refusal:
        return Answer([sight.refusal])
    reading = await read_for(state, asked, history)
    messages = build_messages(
        system_prompt=conf.system_prompt,
        request=intent.prompt or "(an empty message: greet them briefly)",
        author=describe(author),
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
    if _leaks(state, services, text, mention.uri):
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
    room = _room(state) - len(reading.source)
    # Alt text is one post, whatever ai.post_chars says: it is there to be copied whole.
    posts = 1 if sight.alt_text else conf.max_posts_per_reply
    room = max(room, ALT_TEXT_CHARS + 200) if sight.alt_text else room
    parts = split_for_posts(text, limit=room, max_posts=posts)
    seen = [asked, *(post.text for post in history)]
    links = frozenset(url for source in seen for url in find_urls(source)) | reading.links
    footer = "\n".join(
        x for x in (reading.source, _footer(state, result.backend, result.model)) if x
    )
    return Answer(parts, footer=footer, links=links)


async def _edit(state: State, services: AIServices, mention: Note, prompt: str) -> Answer | None:
    """An edit of the asker's own picture; None when no picture is in reach at all."""
    sources = await find_sources(state, mention)
    if sources.own is None:
        if sources.others is None:
            return None
        owner = await actors.by_id(state.db, sources.others.note.actor_id)
        return Answer([EDIT_OTHERS.format(who=describe(owner) if owner else "someone else")])
    source = sources.own
    conf = state.config.ai_image
    try:
        png, width, height = await load_png(
            state, source.media, width=conf.width, height=conf.height
        )
    except FediverseError as exc:
        log.info("picture %s not edited: %s", source.media.url, exc.message)
        return Answer([f"Sorry, I couldn't get your picture to edit it: {exc.message}"])
    result = await services.image.edit(png, prompt, width=width, height=height)
    post_url = source.note.url or source.note.uri
    answer = await _picture(
        state,
        services,
        result,
        prompt,
        ("AI-edited version of the asker's own picture, for the request", "Your picture, edited"),
    )
    edited_from = f"Edited from your post: {post_url}"
    text = "\n\n".join([edited_from, *answer.parts[:1]])[: _room(state)]
    return dataclasses.replace(answer, parts=[text], links=frozenset({post_url}))


async def _image(state: State, services: AIServices, prompt: str) -> Answer:
    conf = state.config.ai_image
    result = await services.image.generate(prompt, width=conf.width, height=conf.height)
    leads = ("AI-generated image for the prompt", "Here is my picture of")
    return await _picture(state, services, result, prompt, leads)


async def _picture(
    state: State,
    services: AIServices,
    result: ImageResult,
    prompt: str,
    leads: tuple[str, str],
) -> Answer:
    """A made or edited picture, checked and captioned, as an answer; ``leads`` open its alt
    text and (when the backend gives no caption) its caption."""
    alt_lead, caption_lead = leads
    # Through the media pipeline first: its pixel caps refuse a decompression bomb from a
    # remote backend before the classifier decodes it, and the classifier sees what we post.
    try:
        processed = await asyncio.to_thread(process_image, result.data)
    except (UnsupportedMedia, PayloadTooLarge) as exc:
        raise BackendError(f"unusable image: {exc.message}", retryable=False) from None
    sensitive = False
    if services.moderator is not None:
        verdict = await services.moderator.check_image(processed.data)
        if not verdict.allowed:
            if state.config.ai_moderation.image_action == "withhold":
                return Answer(["Sorry, the picture I made for this didn't pass my safety check."])
            sensitive = True
    caption_given = strip_markup(result.caption or "").strip()
    if _leaks(state, services, caption_given, "an image caption"):
        caption_given = ""
    alt = f"{alt_lead}: {prompt[:800]}"
    if caption_given:
        alt += f". {caption_given[:600]}"
    # Alt text is never read for mentions by us, but it is plain text that other software
    # may well be: the prompt it echoes is the asker's, with any "@" they put in it.
    attachment = processed.as_attachment(neutralise_mentions(alt), ai_generated=True)
    caption = caption_given or f"{caption_lead}: {prompt[:300]}"
    footer = _footer(state, result.backend, result.model)
    return Answer([caption[: _room(state)]], attachment, footer, sensitive)


def _leaks(state: State, services: AIServices, text: str, what: str) -> bool:
    reason = leak_reason(
        text, system_prompt=state.config.ai.system_prompt, secrets=services.secrets
    )
    if reason:
        log.warning("answer to %s withheld: %s", what, reason)
    return reason is not None


def _room(state: State) -> int:
    # Leave space for the leading mention and the footer inside the post limit.
    return max(100, state.config.ai.post_chars - 120)


def _footer(state: State, backend: str, model: str) -> str:
    if not state.config.ai.footer:
        return ""
    note = " — a tiny offline model, often wrong on facts" if backend == "offline" else ""
    return f"🤖 AI-generated ({backend}: {model}){note}"


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
    async with services.semaphore:
        if image_prompt:
            return await _image(state, services, image_prompt)
        messages = build_messages(
            system_prompt=state.config.ai.system_prompt,
            request=prompt,
            author="The instance's operator",
            ancestors=[],
            context_chars=0,
        )
        result = await services.text.complete(messages, max_tokens=state.config.ai_text.max_tokens)
    # Published as the operator's own post, whose mentions are resolved: the model's are not.
    text = neutralise_mentions(strip_markup(result.text).strip())
    if _leaks(state, services, text, "a post of the AI's own"):
        raise FediverseError(
            "the generated text was withheld: it repeated its instructions or a secret"
        )
    return Answer(
        [text[: state.config.ai.post_chars - 120]],
        footer=_footer(state, result.backend, result.model),
    )
