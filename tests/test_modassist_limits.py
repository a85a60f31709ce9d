"""Moderation assist under load, with the real classifiers and a real worker: report summaries
are charged to the AI's budget (the reporting server's domain bucket and the day's budget), so
a server sending Flags by the hundred cannot queue text-backend work beyond its share; and the
moderation jobs run one at a time per worker while inbox work keeps flowing."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from support.live import LiveServer, live_server
from support.remote import RemoteFediverse, remote_server
from test_ai_moderation import PROFANE
from test_moderation_assist import _closed_port, arrive, classifiers, stored_id

from fediverse_ai.modassist import reports, scoring
from fediverse_ai.state import State
from fediverse_ai.storage import mod_assist
from fediverse_ai.worker import DEFAULT_HANDLERS, Worker

__all__ = ["classifiers"]  # the autouse fixture: skips (with the install line) without models


def budget_toml(per_domain: int, daily: int) -> str:
    # A text backend that refuses connections: a summary it was asked for reads FAILED, one
    # it was never asked for says which budget was spent. Charged either way: the work was
    # sent (a real backend that answers is tests/test_moderation_assist.py's slow test).
    return f"""
[ai.moderation]
assist = true

[ai.limits]
per_domain_per_hour = {per_domain}
daily_budget = {daily}

[ai.text]
backend = "openai"
base_url = "http://127.0.0.1:{_closed_port()}/v1"
model = "nowhere"
timeout_seconds = 5
"""


async def flag(live: LiveServer, peer: RemoteFediverse, post: Any, comment: str) -> None:
    activity = peer.activity("alice", "Flag", [post["id"]], content=comment)
    assert (await peer.send(live.shared_inbox, activity)).status_code == 202


async def summaries(live: LiveServer) -> dict[str, mod_assist.Summary]:
    """Each report's summary, by the reporter's comment."""
    rows = await live.state.db.fetchall("SELECT id, content FROM reports ORDER BY id")
    found = await mod_assist.summaries_of(live.state.db, [int(r[0]) for r in rows])
    return {str(r[1]): found[int(r[0])] for r in rows}


async def test_report_summaries_are_charged_per_reporting_domain_and_per_day(
    tmp_path: Path,
) -> None:
    async with (
        live_server(tmp_path / "ours", extra_toml=budget_toml(per_domain=2, daily=3)) as live,
        remote_server(("alice", "bob"), host="127.0.0.2") as noisy,
        remote_server(("alice", "bob"), host="127.0.0.3") as other,
    ):
        posts = {}
        for name, peer in (("noisy", noisy), ("other", other)):
            posts[name] = peer.note("bob", f"<p>{PROFANE}</p>")
            await arrive(live, peer, "Create", posts[name])
        await live.drain()
        # Three Flags from one server: two fit its domain bucket, the third gets the scores.
        for n in range(3):
            await flag(live, noisy, posts["noisy"], f"noisy {n}")
        await live.drain()
        # Another server has its own bucket, but the day's budget (3) is shared: one more.
        for n in range(2):
            await flag(live, other, posts["other"], f"other {n}")
        await live.drain()
        found = await summaries(live)
        assert {k: s.summary for k, s in found.items()} == {
            "noisy 0": reports.FAILED,
            "noisy 1": reports.FAILED,
            "noisy 2": reports.DOMAIN_SPENT,
            "other 0": reports.FAILED,
            "other 1": reports.DAY_SPENT,
        }
        # Over budget, the summary is still the admin's: the scores and their suggestion.
        for s in found.values():
            assert s.source == "scores" and s.suggested == "silence"
            assert "Highest: offensive language" in s.facts
        assert await live.count("SELECT count FROM ai_usage") == 3
        # The summaries drew from the buckets the AI's answers use: the noisy server's is empty.
        keys = {str(r[0]) for r in await live.state.db.fetchall("SELECT key FROM rate_buckets")}
        assert keys == {"domain:127.0.0.2", "domain:127.0.0.3"}
        assert await stored_id(live, posts["noisy"]) > 0


Handler = Callable[[State, dict[str, Any]], Awaitable[None]]


async def test_moderation_jobs_run_one_at_a_time_while_inbox_work_flows(tmp_path: Path) -> None:
    toml = (
        "\n[ai.moderation]\nassist = true\nsummarise_reports = false\n"
        "\n[worker]\nconcurrency = 4\npoll_interval_seconds = 0.05\n"
    )
    release = asyncio.Event()
    running: collections.Counter[str] = collections.Counter()
    most: collections.Counter[str] = collections.Counter()

    def held(kind: str, real: Handler) -> Handler:
        """The real handler, kept running until ``release``: a slow model, made visible."""

        async def run(state: State, payload: dict[str, Any]) -> None:
            running[kind] += 1
            most[kind] = max(most[kind], running[kind])
            try:
                await release.wait()
                await real(state, payload)
            finally:
                running[kind] -= 1

        return run

    handlers = {
        **DEFAULT_HANDLERS,
        scoring.SCORE_JOB: held(scoring.SCORE_JOB, scoring.score_note),
        reports.REPORT_JOB: held(reports.REPORT_JOB, reports.summarise_report),
    }
    async with live_server(tmp_path / "ours", extra_toml=toml) as live, remote_server() as peer:
        stop = asyncio.Event()
        worker = asyncio.create_task(Worker(live.state, handlers).run(stop))
        try:
            first = [peer.note("bob", f"<p>{PROFANE} {n}</p>") for n in range(4)]
            for doc in first:
                await arrive(live, peer, "Create", doc)
            for doc in first[:2]:
                await flag(live, peer, doc, "insults")
            inbox_sql = "SELECT COUNT(*) FROM jobs WHERE kind = 'inbox' AND state = 'done'"
            await _until(live, inbox_sql, 6)
            # The moderation jobs wait, one of each kind running; inbox work still runs.
            later = peer.note("bob", "<p>still flowing</p>")
            await arrive(live, peer, "Create", later)
            await _until(live, inbox_sql, 7)
            assert running == {scoring.SCORE_JOB: 1, reports.REPORT_JOB: 1}
            # 5 posts and 2 reports queued; each kind has its one job running, the rest wait.
            waiting = "SELECT kind, COUNT(*) FROM jobs WHERE state = 'pending' GROUP BY kind"
            assert dict(await live.state.db.fetchall(waiting)) == {
                scoring.SCORE_JOB: 4,
                reports.REPORT_JOB: 1,
            }
            release.set()
            await _until(live, "SELECT COUNT(*) FROM jobs WHERE state <> 'done'", 0)
        finally:
            release.set()
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(worker, timeout=10)
        assert most == {scoring.SCORE_JOB: 1, reports.REPORT_JOB: 1}
        assert await live.count("SELECT COUNT(*) FROM report_summaries") == 2
        assert await live.count("SELECT COUNT(DISTINCT note_id) FROM moderation_flags") == 5


async def _until(live: LiveServer, sql: str, wanted: int, *, seconds: float = 20) -> None:
    async with asyncio.timeout(seconds):
        while (await live.count(sql)) != wanted:
            await asyncio.sleep(0.02)
