"""What an answer of the AI actor is, before it is published, and the checks every kind shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..ai.leaks import leak_reason
from ..ai.offline_models import caveat_for
from ..models import NewAttachment
from ..state import State
from .services import AIServices

log = logging.getLogger("fediverse_ai.bot.replier")  # one logger for the whole answer

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
    links: frozenset[str] = frozenset()  # URLs the answer may link: those of the thread
    # What made it, recorded for the feedback on it (``/admin/ai``); "" where nothing did
    # (a refusal before any generation: the configured backend is recorded then).
    backend: str = ""
    model: str = ""
    intent: str = ""  # "vision" when it is about a picture; else the request's kind


def withheld(state: State, services: AIServices, text: str, what: str) -> bool:
    """Whether ``text`` must not be published (``ai.leaks``); the reason is logged."""
    reason = leak_reason(
        text, system_prompt=state.config.ai.system_prompt, secrets=services.secrets
    )
    if reason:
        log.warning("answer to %s withheld: %s", what, reason)
    return reason is not None


def answer_room(state: State) -> int:
    """Characters for an answer's text in one post."""
    # Leave space for the leading mention and the footer inside the post limit.
    return max(100, state.config.ai.post_chars - 120)


def answer_footer(state: State, backend: str, model: str) -> str:
    """The label naming the backend and model, unless ``ai.footer`` is off."""
    if not state.config.ai.footer:
        return ""
    caveat = caveat_for(model) if backend == "offline" else ""
    note = f" — {caveat}" if caveat else ""
    return f"🤖 AI-generated ({backend}: {model}){note}"
