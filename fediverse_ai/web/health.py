"""``/healthz`` for load balancers and supervisors, ``/metrics`` for Prometheus.

``/healthz`` is cheap enough to poll every second: one read of the schema's first row
and a look at the worker's last heartbeat, no table scans. ``/metrics`` counts rows (a
handful of GROUP BYs over the job queue and the AI's records), so it is meant for a scrape
every 15 s or more, and only for the addresses ``[metrics]`` allows: to anyone else it does
not exist (404).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging

from quart import Quart, Response, request

from ..metrics import Family, Labels, histogram_samples, render
from ..state import State
from ..storage import stats
from .auth import client_address
from .common import StateHolder

log = logging.getLogger(__name__)
# The worker beats at every loop turn (at least every poll interval) and, while all its loops
# are busy, at every lease renewal (30 s): three missed renewals mean it is stuck.
WORKER_STALE_SECONDS = 90.0
DATABASE_TIMEOUT_SECONDS = 2.0
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def register(app: Quart, holder: StateHolder, *, embedded_worker: bool) -> None:
    @app.get("/healthz")
    async def healthz() -> Response:
        if not holder.ready:
            return _health(503, database="starting", worker="not running")
        state = holder.state
        database = "ok"
        try:
            # Reads a table (a bare SELECT 1 would not touch SQLite's file at all); one that
            # both stores have, and that is small: sqlite_master is SQLite's alone.
            probe = state.db.fetchval("SELECT 1 FROM actors LIMIT 1")
            await asyncio.wait_for(probe, DATABASE_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure is the answer, not an error of this page
            log.warning("health check: the database did not answer: %s", exc)
            database = "error"
        worker = _worker_status(state, stale_after=_stale_after(state))
        healthy = database == "ok" and (worker == "ok" or not embedded_worker)
        return _health(200 if healthy else 503, database=database, worker=worker)

    @app.get("/metrics")
    async def metrics() -> Response:
        if not holder.ready or not _allowed(holder.state):
            return Response("not found", status=404, content_type="text/plain; charset=utf-8")
        body = render(await collect(holder.state))
        return Response(body, content_type=PROMETHEUS_TYPE)


def _stale_after(state: State) -> float:
    return max(WORKER_STALE_SECONDS, 3 * state.config.worker.poll_interval_seconds)


def _worker_status(state: State, *, stale_after: float) -> str:
    age = state.metrics.worker_age()
    if age is None:
        return "not running"
    return "ok" if age <= stale_after else "stale"


def _health(status: int, **parts: str) -> Response:
    doc = {"status": "ok" if status == 200 else "unhealthy", **parts}
    response = Response(json.dumps(doc), status=status, content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _allowed(state: State) -> bool:
    conf = state.config.metrics
    if not conf.enabled:
        return False
    try:
        address = ipaddress.ip_address(client_address(state).split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not any(address in ipaddress.ip_network(n, strict=False) for n in conf.allowed_ips):
        return False
    if conf.bearer_token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {conf.bearer_token}".encode())
    return True


def _labelled(counts: dict[Labels, float]) -> list[tuple[str, Labels, float]]:
    return [("", labels, value) for labels, value in sorted(counts.items())]


async def collect(state: State) -> list[Family]:
    """Every metric: database counts first (they survive restarts), then this process's."""
    db, live = state.db, state.metrics
    depth = await stats.queue_depth(db)
    answers = await stats.ai_answers(db)
    usage = await stats.ai_usage(db, now=state.now(), budget=state.config.ai_limits.daily_budget)
    latency = []
    for outcome, histogram in sorted(live.ai_latency.items()):
        latency.extend(histogram_samples(histogram, (("outcome", outcome),)))
    age = live.worker_age()
    return [
        Family(
            "fediverse_ai_jobs",
            "gauge",
            "Jobs in the queue by kind and state (done jobs until the retention purge).",
            _labelled({(("kind", k), ("state", s)): float(n) for (k, s), n in depth.items()}),
        ),
        Family(
            "fediverse_ai_ai_answers",
            "gauge",
            "Mentions of the AI actor by outcome (done, failed, refused, pending), all time.",
            _labelled({(("outcome", o),): float(n) for o, n in answers.items()}),
        ),
        Family(
            "fediverse_ai_ai_budget_left",
            "gauge",
            "Answers the AI may still give today (UTC), of ai.limits.daily_budget.",
            [("", (), float(usage.budget_left))],
        ),
        Family(
            "fediverse_ai_ai_answers_today",
            "gauge",
            "Answers charged to today's budget (UTC).",
            [("", (), float(usage.answers_today))],
        ),
        Family(
            "fediverse_ai_deliveries_total",
            "counter",
            "Delivery attempts by this process: sent, failed (will retry), given_up.",
            _labelled(dict(live.counted("deliveries"))),
        ),
        Family(
            "fediverse_ai_inbox_total",
            "counter",
            "Activities POSTed to our inboxes: accepted, or refused by reason class.",
            _labelled(dict(live.counted("inbox"))),
        ),
        Family(
            "fediverse_ai_ai_answer_seconds",
            "histogram",
            "Time to answer a mention, generation and publishing, in this process.",
            latency,
        ),
        Family(
            "fediverse_ai_worker_heartbeat_age_seconds",
            "gauge",
            "Seconds since this process's worker last showed life (-1: no worker here).",
            [("", (), -1.0 if age is None else round(age, 3))],
        ),
        Family(
            "fediverse_ai_process_start_time_seconds",
            "gauge",
            "When this process started (Unix time).",
            [("", (), round(live.started, 3))],
        ),
    ]
