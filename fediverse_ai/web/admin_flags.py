"""The admin page's moderation assist: posts the moderation models flagged (with the reason,
the post and the admin's actions on it, dismiss included), and on each open report its
machine-written summary and each reported post's scores. Nothing here acts by itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quart import Quart, Response, request

from ..ai.mod_summary import NOT_SCORED, describe
from ..modassist.flags import Consent, not_consented, not_consented_line, open_flags
from ..state import State
from ..storage import mod_assist
from ..storage import moderation as standing_store
from .admin_reports import ReportView
from .auth import require_admin, safe_next, viewer
from .common import StateHolder, see_other
from .views import AuthorView, Card, cards

NOT_YET = "not scored yet"


@dataclass(frozen=True)
class FlagView:
    """A flagged post: ``reasons`` like "offensive language 0.93 (alt-profanity-check)"."""

    reasons: list[str]
    author: AuthorView
    standing: standing_store.Standing


@dataclass(frozen=True)
class ReportAssist:
    summary: mod_assist.Summary | None
    posts: dict[int, str]  # note id -> its scores in words, or why it has none


async def flag_views(state: State) -> list[tuple[Card, FlagView]]:
    """The open flags (``modassist.flags.open_flags``) as the admin page shows them."""
    found = await open_flags(state)
    reasons = {f.note.id: f.reasons for f in found}
    out = []
    for card in await cards(state, [f.note for f in found], viewer()):
        standing = await standing_store.standing(state.db, card.note.actor_id)
        out.append((card, FlagView(reasons[card.note.id], card.author, standing)))
    return out


async def not_scored_line(state: State) -> str | None:
    """ "N posts not scored: their authors did not consent", shown next to the flags so that
    the admin knows what they cover; None with assist off."""
    if not state.config.ai_moderation.assist:
        return None
    return not_consented_line(await not_consented(state))


async def report_assist(state: State, views: Sequence[ReportView]) -> dict[int, ReportAssist]:
    """Per open report: its summary (None until the job ran) and a line per reported post."""
    if not state.config.ai_moderation.assist or not views:
        return {}
    summaries = await mod_assist.summaries_of(state.db, [v.report.id for v in views])
    scores = await mod_assist.scores_of(state.db, [c.note.id for v in views for c in v.posts])
    consent = Consent(state)
    out = {}
    for v in views:
        lines = {}
        for card in v.posts:
            if not await consent.allows(card.author.actor):
                lines[card.note.id] = NOT_SCORED
            else:
                found = scores.get(card.note.id)
                lines[card.note.id] = " · ".join(map(describe, found)) if found else NOT_YET
        out[v.report.id] = ReportAssist(summaries.get(v.report.id), lines)
    return out


def register(app: Quart, holder: StateHolder) -> None:
    @app.post("/admin/flags/<int:note_id>/dismiss")
    async def dismiss_flag(note_id: int) -> Response:
        state = holder.state
        require_admin()
        await mod_assist.dismiss(state.db, note_id, now=state.now())
        return see_other(safe_next((await request.form).get("next"), "/admin#flags"), 303)
