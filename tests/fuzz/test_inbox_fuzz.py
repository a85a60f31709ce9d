"""Fuzzing the inbox (issue 13 item 2): thousands of mutated, mostly validly signed POSTs.

Given our server live on loopback and a stand-in peer whose users sign for real (some with
hostile actor documents, serving broken media), when a seeded generator POSTs mutated
activities to our inboxes and the worker drains every job they queued, then no answer is a
5xx, the log holds no traceback, every job is done or failed with one of our own error
messages, the database passes its integrity checks (SQLite's, or amcheck on PostgreSQL:
tests/support/store_view.py), and the server still answers: NodeInfo, and a plain signed
Follow accepted and processed.

``FUZZ_SEED``/``FUZZ_COUNT`` choose the run, ``FUZZ_ONLY=<index>`` sends one request of it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from support.keys import reusable_key
from support.live import live_server
from support.remote import RemoteUser, remote_server

from fediverse_ai.storage import follows

from .harness import (
    Campaign,
    database_problems,
    job_figures,
    loopback_only,
    run_requests,
    settings,
    verdict,
    watching_logs,
    write_results,
)
from .inbox_requests import inbox_sender, prepare

RERUN = "python -m pytest tests/fuzz/test_inbox_fuzz.py"
# New accounts get no AI answer: the reply jobs still run their decision on the hostile
# mentions, without loading a model for each.
NO_AI_ANSWERS = "[ai.limits]\nnew_account_per_hour = 0\n"

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
async def test_inbox_survives_mutated_signed_activities(tmp_path: Path) -> None:
    seed, count, only = settings(10_000)
    campaign = Campaign("inbox", seed, RERUN)
    with loopback_only() as refused, watching_logs() as log:
        async with (
            live_server(tmp_path / "ours", extra_toml=NO_AI_ANSWERS) as live,
            remote_server() as remote,
        ):
            requests = await prepare(live, remote, seed)
            async with httpx.AsyncClient(timeout=30.0, trust_env=False) as client:
                indices = [only] if only is not None else range(count)
                await run_requests(campaign, indices, requests.build, inbox_sender(client))
                campaign.figures["send_s"] = round(time.monotonic() - campaign.started, 1)
                campaign.figures["jobs_run"] = await live.drain()

                def queued_by(payload: str) -> str:
                    # Activity ids carry the request's index (see InboxRequests.build).
                    found = re.search(rf"f{seed}-(\d+)", payload)
                    if found is None:
                        return f"  payload: {payload[:300]}"
                    return requests.build(int(found.group(1))).describe(seed, RERUN)

                jobs, unexpected = await job_figures(live, queued_by)
                campaign.figures["jobs"] = jobs
                problems = [f"job failed unexpectedly: {e}" for e in unexpected]
                problems += [f"database: {p}" for p in await database_problems(live)]

                # Still answering: NodeInfo, and a plain Follow accepted and processed.
                nodeinfo = await client.get(f"{live.base_url}/nodeinfo/2.1")
                if nodeinfo.status_code != 200:
                    problems.append(f"NodeInfo answered {nodeinfo.status_code} after the run")
                private_pem, public_pem = reusable_key("remote:after")
                remote.users["after"] = RemoteUser(
                    "after", "After", "Person", private_pem, public_pem
                )
                follow = remote.activity("after", "Follow", live.ai.actor.uri)
                answer = await remote.send(live.shared_inbox, follow)
                await live.drain()
                follower = await live.state.db.fetchval(
                    "SELECT id FROM actors WHERE uri = ?", (remote.actor_uri("after"),)
                )
                follow_row = (
                    await follows.get(live.state.db, follower, live.ai.actor.id)
                    if follower is not None
                    else None
                )
                accepted = [
                    p
                    for p in remote.posts(type="Accept")
                    if p.verified and follow["id"] in json.dumps(p.activity)
                ]
                if answer.status_code != 202 or follow_row is None or not accepted:
                    problems.append(
                        f"a valid Follow after the run: {answer.status_code} {follow_row}"
                    )
        campaign.figures["tracebacks"] = len(log.crashes)
        campaign.figures["refused_names"] = sorted(set(refused))[:20]
        problems += [f"server log: {c}" for c in log.crashes]
        problems += [f"stand-in peer crashed: {e}" for e in remote.errors]
    write_results(campaign)
    failure = verdict(campaign, problems)
    assert failure is None, failure
