"""The ``summarise_report`` job: a report's posts scored, summarised and an action suggested.

Queued in the transaction that stores a report (a local user's, or another server's ``Flag``).
The posts it names are scored as any post is (consent first: an opted-out author's post is
counted, marked "not scored", and neither scored nor shown to the model). The instance's text
backend then writes a short summary and suggests review, silence or suspend; when it is off
for reports, fails, or has nothing it may read, the summary is the counts and scores alone
and the suggestion comes from the scores. A summary by the model is charged to the AI's
budget as an answer is: the reporting server's domain bucket (``ai.limits.per_domain_per_hour``,
the one its mentions use; a local report has none) and the day's budget; when one is spent,
the summary is from the scores and says so, so that a server sending Flags by the thousand
queues no more text-backend work than its share. Running the job twice replaces the summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..ai.base import BackendError
from ..ai.mod_summary import (
    ReportedPost,
    ScoreLike,
    Thresholds,
    build_messages,
    facts,
    parse_answer,
    suggest,
)
from ..bot.decision import rate_domain
from ..bot.services import get_services
from ..errors import BadRequest, FediverseError
from ..federation.moderation import MAX_REPORTED_POSTS
from ..foryou.embedding import note_text
from ..models import Actor, Note
from ..state import State
from ..storage import actors, ai_replies, mod_assist, notes, reactions
from ..storage.ai_replies import Bucket
from ..storage.mod_assist import Summary
from . import scoring

log = logging.getLogger(__name__)

REPORT_JOB = mod_assist.REPORT_JOB
# One summary at a time per worker: a generation takes seconds, and a wave of Flags from one
# server must not hold the worker loops that inbox work needs.
CONCURRENCY = 1
MAX_TOKENS = 160
OFF = "No summary by a model: summaries of reports are switched off (ai.moderation)."
FAILED = "No summary by a model: the text backend failed; the scores are below."
DOMAIN_SPENT = (
    "No summary by a model: reports from this server used up its share of the AI"
    " (ai.limits.per_domain_per_hour); the scores are below."
)
DAY_SPENT = (
    "No summary by a model: the AI's daily budget is spent (ai.limits.daily_budget);"
    " the scores are below."
)
NOTHING_READABLE = "No summary by a model: none of the reported posts may be read by AI here."


def thresholds(state: State) -> Thresholds:
    m = state.config.ai_moderation
    return Thresholds(text=m.flag_text_threshold, image=m.flag_image_threshold)


def author_label(author: Actor | None) -> str:
    if author is None:
        return "someone"
    handle = f"@{author.username}@{author.domain.split(':')[0]}"
    return f"{author.display_name} ({handle})" if author.display_name else handle


async def reported_notes(state: State, report: reactions.Report) -> tuple[list[Note], int]:
    """The stored posts a report names, and how many of its ids are neither a post nor an
    account we know (a remote report about posts we never received)."""
    found: list[Note] = []
    missing = 0
    # A remote Flag may name any number of ids: a report's worth is read, as a local one holds.
    for uri in list(dict.fromkeys(report.object_uris))[: MAX_REPORTED_POSTS + 1]:
        note = await notes.by_uri(state.db, uri)
        if note is not None:
            found.append(note)
        elif uri != report.target_uri and await actors.by_uri(state.db, uri) is None:
            missing += 1
    return found, missing


async def _reported_post(state: State, note: Note) -> ReportedPost:
    author = await actors.by_id(state.db, note.actor_id)
    scores: Sequence[ScoreLike] | None
    try:
        scores = await scoring.score(state, note)
    except (FediverseError, BackendError) as exc:  # a picture that cannot be fetched now
        log.info("report: note %s scored from what is stored: %s", note.id, exc)
        scores = (await mod_assist.scores_of(state.db, [note.id])).get(note.id, [])
    if scores is None:
        return ReportedPost(author_label(author), "", (), opted_out=True)
    return ReportedPost(author_label(author), note_text(note), tuple(scores))


async def summarise_report(state: State, payload: dict[str, Any]) -> None:
    """Job handler: score a report's posts and store its summary."""
    report_id = payload.get("report_id")
    if not isinstance(report_id, int) or isinstance(report_id, bool):
        raise BadRequest("summarise_report: report_id must be an integer")
    if not state.config.ai_moderation.assist:
        return
    report = await reactions.report_by_id(state.db, report_id)
    if report is None:
        return
    found, missing = await reported_notes(state, report)
    posts = [await _reported_post(state, note) for note in found]
    limits = thresholds(state)
    line = facts(posts, limits, missing=missing)
    summary = Summary(report.id, OFF, line, suggest(posts, limits), "scores", "", "", state.now())
    if not any(not p.opted_out and p.text for p in posts):
        summary = replace(summary, summary=NOTHING_READABLE)
    elif state.config.ai_moderation.summarise_reports:
        summary = await _by_model(state, report, posts, summary)
    if not await mod_assist.put_summary(state.db, summary):
        log.info("report %s was deleted while it was summarised", report.id)


async def _by_model(
    state: State, report: reactions.Report, posts: list[ReportedPost], fallback: Summary
) -> Summary:
    spent = await _charge(state, report)
    if spent is not None:
        log.info("report %s: no summary by the text backend: %s", report.id, spent)
        return replace(fallback, summary=spent)
    services = get_services(state)
    messages = build_messages(report.content, posts, fallback.facts)
    try:
        async with services.slots.hold():
            result = await services.text.complete(
                messages, max_tokens=min(MAX_TOKENS, state.config.ai_text.max_tokens)
            )
    except BackendError as exc:
        log.warning("report %s: no summary by the text backend: %s", report.id, exc.message)
        return replace(fallback, summary=FAILED)
    text, suggestion = parse_answer(result.text)
    if not text:
        return replace(fallback, summary=FAILED)
    return Summary(
        report_id=report.id,
        summary=text,
        facts=fallback.facts,
        suggested=suggestion or fallback.suggested,
        source="model",
        backend=result.backend,
        model=result.model,
        created_at=state.now(),
    )


async def _charge(state: State, report: reactions.Report) -> str | None:
    """Charge one generation for ``report``; None when charged, else the summary saying why
    the model was not asked."""
    limits = state.config.ai_limits
    buckets = []
    if not report.local:
        per_hour = limits.per_domain_per_hour
        key = f"domain:{rate_domain(report.reporter_uri)}"
        buckets.append(Bucket(key, per_hour, per_hour / 3600, DOMAIN_SPENT))
    now = state.now()
    refusal = await ai_replies.charge(
        state.db, buckets, day=ai_replies.day_of(now), budget=limits.daily_budget, now=now
    )
    if refusal is None:
        return None
    return refusal if refusal == DOMAIN_SPENT else DAY_SPENT
