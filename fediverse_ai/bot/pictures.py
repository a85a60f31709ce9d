"""Pictures as answers: drawn for a prompt, or an edit of the asker's own picture."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from ..ai.base import BackendError, ImageResult
from ..ai.prompt import strip_markup
from ..content import neutralise_mentions
from ..errors import FediverseError, PayloadTooLarge, UnsupportedMedia
from ..media import process_image
from ..models import Note
from ..state import State
from ..storage import actors
from .answers import Answer, answer_footer, answer_room, withheld
from .context import describe
from .editing import find_sources, load_png
from .services import AIServices

log = logging.getLogger("fediverse_ai.bot.replier")

EDIT_OTHERS = (
    "I only edit pictures posted by the person asking, and this one was posted by {who}. "
    "Share a picture of your own and ask again."
)
EDIT_NOTHING = "To edit a picture, post it with your request, or answer your own post that has it."


async def edit_answer(
    state: State, services: AIServices, mention: Note, prompt: str
) -> Answer | None:
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
    text = "\n\n".join([edited_from, *answer.parts[:1]])[: answer_room(state)]
    return dataclasses.replace(answer, parts=[text], links=frozenset({post_url}))


async def image_answer(state: State, services: AIServices, prompt: str) -> Answer:
    """A picture the image backend draws for ``prompt``."""
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
    if withheld(state, services, caption_given, "an image caption"):
        caption_given = ""
    alt = f"{alt_lead}: {prompt[:800]}"
    if caption_given:
        alt += f". {caption_given[:600]}"
    # Alt text is never read for mentions by us, but it is plain text that other software
    # may well be: the prompt it echoes is the asker's, with any "@" they put in it.
    attachment = processed.as_attachment(neutralise_mentions(alt), ai_generated=True)
    caption = caption_given or f"{caption_lead}: {prompt[:300]}"
    footer = answer_footer(state, result.backend, result.model)
    return Answer(
        [caption[: answer_room(state)]],
        attachment,
        footer,
        sensitive,
        backend=result.backend,
        model=result.model,
    )
