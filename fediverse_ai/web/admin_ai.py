"""``/admin/ai``: how the AI's answers are received, per day and per backend, model and intent,
and the worst-rated answers to review, with the feedback that made them bad.

Charts are inline SVG drawn here on the server (:mod:`..svg_chart`): the page has no script.
Consent holds on this page too: the words of a reply are shown only while its author lets the
AI use their posts, and only for a public or unlisted reply; otherwise it is a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup
from quart import Quart, Response, request

from ..ai.consent import author_allows_ai
from ..models import Actor
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, ai_feedback, embeddings
from ..storage.ai_replies import day_of
from ..svg_chart import Series, line_chart
from .auth import require_admin
from .common import StateHolder
from .pages import render
from .views import AuthorView, author_view

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
WORST = 10
COMPLAINTS_PER_ANSWER = 3
EXCERPT = 280
PUBLIC_VIS = ("public", "unlisted")


@dataclass(frozen=True)
class ComplaintView:
    author: AuthorView | None
    reason: str  # "" when the author has since opted out
    text: str  # "" when not shown (consent, visibility)
    hidden_why: str
    link: str | None


@dataclass(frozen=True)
class WorstView:
    rated: ai_feedback.Rated
    link: str | None  # the answer's page here
    excerpt: str
    complaints: list[ComplaintView]


def _days(today: str, count: int) -> list[str]:
    last = datetime.strptime(today, "%Y-%m-%d").replace(tzinfo=UTC)
    return [(last - timedelta(days=count - 1 - i)).strftime("%Y-%m-%d") for i in range(count)]


def _charts(
    days: list[str], counts: list[ai_feedback.Count], answers: dict[str, int]
) -> tuple[str, str]:
    names = ("Likes", "Boosts", "Praise", "Complaints", "Other replies")
    per = {name: dict.fromkeys(days, 0.0) for name in names}
    for c in counts:
        if c.day not in per["Likes"]:
            continue
        if c.verdict == "negative":
            name = "Complaints"
        elif c.kind == "like":
            name = "Likes"
        elif c.kind == "boost":
            name = "Boosts"
        else:
            name = "Praise" if c.verdict == "positive" else "Other replies"
        per[name][c.day] += c.count
    counts_svg = line_chart(
        "Feedback on the AI's answers per day (UTC)",
        [d[5:] for d in days],
        [
            Series("Answers", [float(answers.get(d, 0)) for d in days]),
            *(Series(name, list(per[name].values())) for name in names),
        ],
    )
    approval: list[float | None] = []
    complaint_rate: list[float | None] = []
    for d in days:
        good = per["Likes"][d] + per["Boosts"][d] + per["Praise"][d]
        bad = per["Complaints"][d]
        approval.append(round(100 * good / (good + bad), 1) if good + bad else None)
        n = answers.get(d, 0)
        complaint_rate.append(round(100 * bad / n, 1) if n else None)
    rates = [v for v in (*approval, *complaint_rate) if v is not None]
    rate_svg = line_chart(
        "Approval and complaints per day (UTC), in percent",
        [d[5:] for d in days],
        [
            Series("Approval: praise ÷ (praise + complaints)", approval),
            Series("Complaints per 100 answers", complaint_rate),
        ],
        unit="%",
        y_max=100.0 if max(rates, default=0.0) <= 100 else None,
    )
    return counts_svg, rate_svg


async def _complaint_view(
    c: ai_feedback.Complaint, author: Actor | None, consents: bool
) -> ComplaintView:
    text, why = "", ""
    if not consents:
        why = (
            "Its author keeps their posts out of AI processing now (or is suspended or"
            " silenced): their words are not shown."
        )
    elif c.reply_note_id is None:
        why = "An emoji reaction."
    elif c.reply_visibility not in PUBLIC_VIS:
        why = "A followers-only or direct reply: its words are not shown here."
    else:
        text = html_to_text(c.reply_content)[:EXCERPT]
    return ComplaintView(
        author=author_view(author) if author is not None else None,
        reason=c.reason if consents else "",
        text=text,
        hidden_why=why,
        link=f"/notes/{c.reply_note_id}" if c.reply_note_id is not None else None,
    )


async def _worst(state: State, since: str) -> list[WorstView]:
    """The worst answers, in four queries whatever their number: the page stays quick with
    thousands of rows (BENCHMARKS.md, last section)."""
    rated = await ai_feedback.worst(state.db, since_day=since, limit=WORST)
    found = await ai_feedback.complaints(
        state.db, [r.mention_uri for r in rated], per=COMPLAINTS_PER_ANSWER
    )
    authors = await actors.by_ids(state.db, [c.actor_id for c in found])
    # The same rule as allows_ai, for many authors at once (and moderated ones kept out).
    willing = set(await embeddings.consenting_authors(state.db, list(authors)))
    consents = {i: i in willing and author_allows_ai(a) for i, a in authors.items()}
    out = []
    for r in rated:
        mine = [c for c in found if c.mention_uri == r.mention_uri]
        out.append(
            WorstView(
                rated=r,
                link=f"/notes/{r.answer_note_id}" if r.answer_note_id is not None else None,
                excerpt=html_to_text(r.answer_content)[:EXCERPT],
                complaints=[
                    await _complaint_view(
                        c, authors.get(c.actor_id), consents.get(c.actor_id, False)
                    )
                    for c in mine
                ],
            )
        )
    return out


async def admin_ai_page(state: State, days: int) -> Response:
    today = day_of(state.now())
    labels = _days(today, days)
    since = labels[0]
    counts_svg, rate_svg = _charts(
        labels,
        await ai_feedback.daily(state.db, since),
        await ai_feedback.answers_daily(state.db, since),
    )
    return await render(
        state,
        "admin_ai.html",
        title="AI feedback",
        days=days,
        periods=PERIODS,
        since=since,
        today=today,
        # Built by svg_chart, which escapes every piece of text it writes.
        counts_chart=Markup(counts_svg),  # noqa: S704
        rate_chart=Markup(rate_svg),  # noqa: S704
        groups=await ai_feedback.groups(state.db, since),
        worst=await _worst(state, since),
    )


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/admin/ai")
    async def admin_ai() -> Response:
        require_admin()
        raw = request.args.get("days", "")
        days = int(raw) if raw in {str(p) for p in PERIODS} else DEFAULT_DAYS
        return await admin_ai_page(holder.state, days)
