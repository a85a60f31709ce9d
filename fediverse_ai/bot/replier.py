"""The ``ai_reply`` job: one mention in, exactly one answer out (or one polite refusal).

Exactly-once rests on two records: the job's dedupe key (one job per mention) and
``ai_replies``, which reserves the answer's status ids before anything is generated.
A retried or restarted job publishes under the same ids, and publishing an id that
exists only re-queues its (deduplicated) deliveries.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..ai.base import BackendError
from ..ai.consent import opted_out
from ..ai.intent import detect_intent
from ..ai.prompt import build_messages, split_for_posts
from ..errors import FediverseError, PayloadTooLarge, UnsupportedMedia
from ..federation import publish
from ..media import process_image
from ..models import Account, Actor, Draft, NewAttachment, Note, Visibility
from ..netguard import is_blocked_domain
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, ai_replies, notes
from ..urls import new_status_id
from ..vocab import host_of
from .context import ancestors, describe
from .services import AIServices, get_services

log = logging.getLogger(__name__)

REFUSAL = "Sorry, I can't help with that request."
FAILURE = (
    "Sorry, I couldn't answer this time: my generator is not available. Please try again later."
)


@dataclass(frozen=True)
class Answer:
    parts: list[str]
    attachment: NewAttachment | None = None
    footer: str = ""
    sensitive: bool = False


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
    if record.reply_uri is None and attempt == 1:
        reason = await refusal_reason(state, mention, author, ai)
        if reason:
            log.info("not answering %s: %s", mention.uri, reason)
            await ai_replies.finish(
                state.db, mention.uri, state="skipped", reason=reason, now=state.now()
            )
            return
    services = get_services(state)
    try:
        async with services.semaphore:
            answer = await _generate(state, services, mention, author, ai)
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


async def refusal_reason(state: State, mention: Note, author: Actor, ai: Account) -> str | None:
    """Why the AI must stay silent: bots, consent, blocks, loops, rate limits, budget."""
    limits = state.config.ai_limits
    if author.is_bot:
        return "author is a bot"
    if opted_out(author.summary, author.fields):
        return "author opted out (#nobot/#noai/#nollm)"
    host = (host_of(author.uri) or "").split(":")[0]
    if is_blocked_domain(host, await state.blocked_domains()):
        return "domain blocked"
    context = mention.context_uri or mention.uri
    done = await ai_replies.count_in_context(state.db, ai_actor_id=ai.actor.id, context_uri=context)
    if done >= state.config.ai.max_replies_per_thread:
        return "reply cap for this thread reached"
    if author.local:
        return None if await _budget(state) else "daily budget spent"
    now = state.now()
    young = now - author.published < limits.new_account_days * 86400
    per_hour = limits.new_account_per_hour if young else limits.per_account_per_hour
    if (
        not await ai_replies.take_token(
            state.db,
            f"account:{author.uri}",
            capacity=max(per_hour, 1),
            per_second=per_hour / 3600,
            now=now,
        )
        or per_hour == 0
    ):
        return "rate limit for this account"
    per_domain = limits.per_domain_per_hour
    if (
        not await ai_replies.take_token(
            state.db,
            f"domain:{host}",
            capacity=max(per_domain, 1),
            per_second=per_domain / 3600,
            now=now,
        )
        or per_domain == 0
    ):
        return "rate limit for this domain"
    return None if await _budget(state) else "daily budget spent"


async def _budget(state: State) -> bool:
    day = datetime.fromtimestamp(state.now(), UTC).strftime("%Y-%m-%d")
    return await ai_replies.take_budget(
        state.db, day=day, budget=state.config.ai_limits.daily_budget
    )


async def _generate(
    state: State, services: AIServices, mention: Note, author: Actor, ai: Account
) -> Answer:
    conf = state.config.ai
    intent = detect_intent(html_to_text(mention.content), image_words=conf.image_words)
    if services.moderator is not None and intent.prompt:
        verdict = await services.moderator.check_text(intent.prompt)
        if not verdict.allowed:
            return Answer([REFUSAL])
    if intent.kind == "image":
        return await _image(state, services, intent.prompt or "something beautiful")
    history = await ancestors(state, mention, ai_actor_id=ai.actor.id)
    messages = build_messages(
        system_prompt=conf.system_prompt,
        request=intent.prompt or "(an empty message: greet them briefly)",
        author=describe(author),
        ancestors=history,
        context_chars=conf.context_chars,
    )
    result = await services.text.complete(messages, max_tokens=state.config.ai_text.max_tokens)
    text = result.text.strip() or "…"
    if services.moderator is not None:
        verdict = await services.moderator.check_text(text)
        if not verdict.allowed:
            return Answer([REFUSAL])
    parts = split_for_posts(text, limit=_room(state), max_posts=conf.max_posts_per_reply)
    return Answer(parts, footer=_footer(state, result.backend, result.model))


async def _image(state: State, services: AIServices, prompt: str) -> Answer:
    conf = state.config.ai_image
    result = await services.image.generate(prompt, width=conf.width, height=conf.height)
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
    alt = f"AI-generated image for the prompt: {prompt[:800]}"
    if result.caption:
        alt += f". {result.caption[:600]}"
    attachment = processed.as_attachment(alt, ai_generated=True)
    caption = result.caption or f"Here is my picture of: {prompt[:300]}"
    footer = _footer(state, result.backend, result.model)
    return Answer([caption[: _room(state)]], attachment, footer, sensitive)


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
    """Publish the answer as a self-threaded chain under the reserved ids; returns the first id."""
    visibility = reply_visibility(state, mention)
    in_reply_to = mention.uri
    first_uri = ""
    for index, part in enumerate(answer.parts):
        # Handles carry no port: a port only appears on test and development hosts.
        text = f"@{author.username}@{author.domain.split(':')[0]} {part}"
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
            extra_mentions=(author.uri,),
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
    return Answer(
        [result.text.strip()[: state.config.ai.post_chars - 120]],
        footer=_footer(state, result.backend, result.model),
    )
