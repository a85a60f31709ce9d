"""``fediverse-ai jobs`` and ``fediverse-ai purge``: the job queue and the retention purge."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from typing import Any

from .config import Config
from .errors import FediverseError

Loader = Callable[[argparse.Namespace], Config]
Runner = Callable[[Coroutine[Any, Any, int]], int]


def add_ops_commands(sub: Any, *, load: Loader, run: Runner) -> None:
    """Register the queue and upkeep commands on the top-level subparsers."""

    def cmd_jobs(args: argparse.Namespace) -> int:
        config = load(args)

        async def go() -> int:
            from .state import open_state
            from .storage import jobs

            async with open_state(config) as state:
                if args.retry_failed:
                    requeued = await jobs.retry_failed(state.db, now=state.now())
                    print(f"requeued {requeued} failed jobs")
                for name, count in sorted((await jobs.counts(state.db)).items()):
                    print(f"{name}\t{count}")
                for job in await jobs.list_jobs(state.db, state="failed", limit=20):
                    print(f"failed #{job.id} {job.kind} after {job.attempts}: {job.last_error}")
            return 0

        return run(go())

    def cmd_purge(args: argparse.Namespace) -> int:
        config = load(args)

        async def go() -> int:
            from .state import open_state
            from .storage import retention

            async with open_state(config) as state:
                removed = await retention.purge(
                    state.db, config.retention, now=state.now(), dry_run=args.dry_run
                )
            for name, count in removed.items():
                print(f"{name}\t{count}")
            if args.dry_run:
                print("dry run: nothing was removed")
            return 0

        return run(go())

    jobs_p = sub.add_parser("jobs", help="job queue status")
    jobs_p.add_argument("--retry-failed", action="store_true", help="requeue failed jobs")
    jobs_p.set_defaults(func=cmd_jobs)
    purge_p = sub.add_parser(
        "purge", help="delete what [retention] no longer keeps, and print how much per table"
    )
    purge_p.add_argument("--dry-run", action="store_true", help="only count what would be removed")
    purge_p.set_defaults(func=cmd_purge)

    def cmd_media_prune(args: argparse.Namespace) -> int:
        config = load(args)
        days = config.retention.remote_media_days if args.days is None else args.days
        if days <= 0:
            raise FediverseError("nothing to prune: remote media are kept (give --days N)")

        async def go() -> int:
            from .media_cache import prune
            from .state import open_state

            async with open_state(config) as state:
                files, size = await prune(state, days=days, dry_run=args.dry_run)
            verb = "would remove" if args.dry_run else "removed"
            print(f"{verb} {files} cached remote files ({size / 1_048_576:.1f} MB)")
            return 0

        return run(go())

    media = sub.add_parser("media", help="the cache of other servers' media").add_subparsers(
        dest="media_command", required=True
    )
    prune_p = media.add_parser("prune", help="delete cached remote media fetched long ago")
    prune_p.add_argument(
        "--days", type=int, help="older than this (default retention.remote_media_days)"
    )
    prune_p.add_argument("--dry-run", action="store_true", help="only count")
    prune_p.set_defaults(func=cmd_media_prune)
