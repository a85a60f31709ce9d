"""Run the benchmarks: ``python -m bench`` (``make bench``); ``BENCH_QUICK=1`` for a short
run; ``BENCH_ONLY="web fanout"`` for a subset (fanout, web, api, intake, mention; ``foryou``,
the For-you feed, ``offline_text``, the offline text models, ``userdata``, archives,
``admin_ai``, the AI feedback page, ``api_limits``, the cost of the shared API rate limit, and
``pg``, several worker processes on PostgreSQL (bench/pg_scale.py), run only when named).

Writes ``bench/results/<name>.json`` per benchmark and ``bench/results/summary.json`` +
``summary.md`` (the targets, met or missed, with their ratios)."""

from __future__ import annotations

import io
import json
import os
import sys
import time
from contextlib import redirect_stdout
from typing import Any

from .common import QUICK, RESULTS, machine, table, write_result

ALL = ("fanout", "web", "api", "intake", "mention")


class Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
            s.flush()
        return len(text)


def _targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float, goal: float, *, below: bool = False, unit: str = "") -> None:
        met = value < goal if below else value >= goal
        rows.append(
            {
                "target": name,
                "measured": round(value, 3),
                "goal": f"{'<' if below else '>='} {goal}{unit}",
                "met": met,
            }
        )

    intake = results.get("intake")
    if intake:
        main = next(r for r in intake["rows"] if r["server"] == "run")
        from .intake import run_server

        add(f"intake accepted / bare ceiling ({run_server()})", main["accepted/ceiling"], 0.8)
        add(f"processed / bare ceiling ({run_server()})", main["processed/ceiling"], 0.5)
        add("activities lost", main["lost"], 1, below=True)
        add("idle RSS of `fediverse-ai run`", main["rss idle MB"], 100, below=True, unit=" MB")
        add(
            f"RSS after {main['n']:,} activities", main["rss after MB"], 200, below=True, unit=" MB"
        )
    fanout = results.get("fanout")
    if fanout:
        worst = min(r["ratio"] for r in fanout["rows"])
        add("fan-out deliveries/s / signing limit (worst case)", worst, 0.7)
    mention = results.get("mention")
    if mention:
        ten = next(r for r in mention["rows"] if r["concurrent"] == 10)
        add("mention->reply p50 at 10 concurrent", ten["p50 ms"], 50, below=True, unit=" ms")
        add("mention->reply p99 at 10 concurrent", ten["p99 ms"], 250, below=True, unit=" ms")
        link = next((r for r in mention["rows"] if r.get("link overhead p50 ms") is not None), None)
        if link:
            overhead = link["link overhead p50 ms"]
            add("reading a 200 KB linked page, p50 overhead", overhead, 100, below=True, unit=" ms")
        seen = next((r for r in mention["rows"] if "picture overhead p50 ms" in r), None)
        if seen:
            overhead = seen["picture overhead p50 ms"]
            add("seeing a 1 MB picture, p50 overhead", overhead, 100, below=True, unit=" ms")
    web = results.get("web")
    if web:
        for r in web["rows"]:
            if r.get("status") == 200:
                add(f"web {r['page']} p50", r["p50 ms"], 20, below=True, unit=" ms")
    feed = results.get("foryou")
    if feed:
        page = next(r for r in feed["rows"] if r["page"] == "/for-you")
        add(f"/for-you p50 at {feed['posts']:,} embedded posts", page["p50 ms"], 100, below=True,
            unit=" ms")  # fmt: skip
    models = results.get("offline_text")
    if models:
        for r in models["rows"]:
            if r["layout"] == "plain":
                add(f"offline {r['model']}: right answers", r["ratio"], 0.7)
    api = results.get("api")
    if api:
        home = next(r for r in api["rows"] if r["request"].startswith("GET /api"))
        add("API home timeline (40) p50", home["p50 ms"], 20, below=True, unit=" ms")
        last = api["fanout"]["last received ms"]
        add(f"one status to {api['fanout']['streams']} streams", last, 1000, below=True, unit=" ms")
    return rows


def main() -> int:
    only = os.environ.get("BENCH_ONLY", "").split() or list(ALL)
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = io.StringIO()
    results: dict[str, Any] = {}
    started = time.monotonic()
    info = machine()
    with redirect_stdout(Tee(sys.stdout, log)):
        print(f"# fediverse-ai benchmarks ({'quick' if QUICK else 'full'})\n\n{info}\n")
        if "fanout" in only:
            from . import fanout

            results["fanout"] = fanout.run()
        if "web" in only:
            from . import web

            results["web"] = web.run()
        if "foryou" in only:
            from . import foryou

            results["foryou"] = foryou.run()
        if "offline_text" in only:
            from . import offline_text

            results["offline_text"] = offline_text.run()
        if "admin_ai" in only:
            from . import admin_ai

            results["admin_ai"] = admin_ai.run()
        if "userdata" in only:
            from . import userdata

            results["userdata"] = userdata.run()
        if "api_limits" in only:
            from . import api_limits

            results["api_limits"] = api_limits.run()
        if "pg" in only:
            from . import pg_scale

            results["pg"] = pg_scale.run()
        if "api" in only:
            from . import api

            results["api"] = api.run()
        if "intake" in only or "mention" in only:
            from .net import network

            with network(actors=50) as net:  # the e2e lock is held only in here
                if "intake" in only:
                    from . import intake

                    results["intake"] = intake.run(net)
                if "mention" in only:
                    from . import mention

                    results["mention"] = mention.run(net)
        targets = _targets(results)
        print(table("Targets", targets))
        print(f"total {time.monotonic() - started:.0f} s")
    summary = {
        "machine": info,
        "seconds": time.monotonic() - started,
        "targets": targets,
        "results": {k: v for k, v in results.items()},
    }
    write_result("summary", json.loads(json.dumps(summary, default=str)))
    (RESULTS / "summary.md").write_text(log.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
