"""``fediverse-ai jobs`` and ``fediverse-ai purge``: the job queue and the retention purge."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from .config import Config
from .errors import FediverseError

Loader = Callable[[argparse.Namespace], Config]
Runner = Callable[[Coroutine[Any, Any, int]], int]


STATES = ("pending", "running", "done", "failed")
LISTED = 10


def when(moment: float, now: float) -> str:
    """A UTC time with how far it is from now, as an operator reads a queue."""
    stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    delta = moment - now
    span = abs(delta)
    if span < 60:
        rel = f"{span:.0f} s"
    elif span < 3600:
        rel = f"{span / 60:.0f} min"
    elif span < 172800:
        rel = f"{span / 3600:.1f} h"
    else:
        rel = f"{span / 86400:.0f} days"
    if span < 1:
        return f"{stamp} (now)"
    return f"{stamp} (in {rel})" if delta > 0 else f"{stamp} ({rel} ago)"


async def print_queue(state: Any) -> None:
    """Kinds and states, each kind's next run and newest error, then the retries and failures."""
    from .storage import jobs, stats

    kinds = await stats.job_kinds(state.db)
    if not kinds:
        print("the queue is empty")
        return
    now = state.now()
    width = max(len("KIND"), *(len(k.kind) for k in kinds))
    print(f"{'KIND':<{width}}  " + "  ".join(f"{s.upper():>7}" for s in STATES) + "  NEXT RUN")
    for k in kinds:
        counts = "  ".join(f"{k.states.get(s, 0):>7}" for s in STATES)
        upcoming = when(k.next_run, now) if k.next_run is not None else "-"
        print(f"{k.kind:<{width}}  {counts}  {upcoming}")
    errors = [k for k in kinds if k.last_error]
    if errors:
        print("\nlast error per kind:")
        for k in errors:
            at = when(k.last_error_at, now) if k.last_error_at is not None else "?"
            print(f"  {k.kind} at {at}: {k.last_error}")
    pending = await jobs.list_jobs(state.db, state="pending", limit=500)
    retries = sorted((j for j in pending if j.attempts > 0), key=lambda j: j.run_after)
    if retries:
        print(f"\nwaiting to retry ({len(retries)}, soonest first):")
        for job in retries[:LISTED]:
            print(
                f"  #{job.id} {job.kind} after {job.attempts} attempt(s),"
                f" next {when(job.run_after, now)}: {job.last_error}"
            )
    failed = await jobs.list_jobs(state.db, state="failed", limit=LISTED)
    if failed:
        print("\nfailed for good (newest first; --retry-failed requeues them):")
        for job in failed:
            print(f"  #{job.id} {job.kind} after {job.attempts} attempt(s): {job.last_error}")


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
                await print_queue(state)
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

    jobs_p = sub.add_parser(
        "jobs", help="the job queue: kinds, states, next retries and the last errors"
    )
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

    def cmd_media_copy(args: argparse.Namespace) -> int:
        from .media_copy import copy_media
        from .media_store import LocalStore, S3Store

        config = load(args)
        m = config.media_store
        if not m.bucket:
            raise FediverseError("media copy: set media_store.bucket (and its endpoint, keys)")
        bucket = S3Store(m)
        local = LocalStore(config.storage.media_dir)
        source, target = (local, bucket) if args.to == "s3" else (bucket, local)
        if args.create_bucket and args.to == "s3":
            bucket.ensure_bucket()
        where = f"bucket {m.bucket!r}"
        print(f"copying {config.storage.media_dir} -> {where}" if args.to == "s3" else
              f"copying {where} -> {config.storage.media_dir}")  # fmt: skip
        report = copy_media(
            source,
            target,
            workers=args.workers,
            progress=lambda r: print(f"  {r.listed} files seen, {r.copied} copied", flush=True),
        )
        print(
            f"{report.listed} files: {report.copied} copied ({report.bytes_copied / 1_048_576:.1f}"
            f" MB), {report.present} already there, {report.failed} failed,"
            f" {report.vanished} deleted meanwhile"
        )
        same = "match" if report.source_checksum == report.target_checksum else "DIFFER"
        print(f"checksum source {report.source_checksum[:16]}  target"
              f" {report.target_checksum[:16]}: {same}")  # fmt: skip
        if not report.ok:
            print("run it again: files already copied are skipped")
            return 1
        if m.kind != args.to:
            print(f'now set media_store.kind = "{args.to}", restart, and run this again')
        return 0

    media = sub.add_parser("media", help="media files: the cache, the store").add_subparsers(
        dest="media_command", required=True
    )
    prune_p = media.add_parser("prune", help="delete cached remote media fetched long ago")
    prune_p.add_argument(
        "--days", type=int, help="older than this (default retention.remote_media_days)"
    )
    prune_p.add_argument("--dry-run", action="store_true", help="only count")
    prune_p.set_defaults(func=cmd_media_prune)
    copy_p = media.add_parser(
        "copy", help="copy every media file to the bucket or back (resumable, checksummed)"
    )
    copy_p.add_argument("--to", choices=("s3", "local"), required=True, help="the target store")
    copy_p.add_argument("--workers", type=int, default=8, help="files in flight (default 8)")
    copy_p.add_argument(
        "--create-bucket", action="store_true", help="create media_store.bucket if missing"
    )
    copy_p.set_defaults(func=cmd_media_copy)
