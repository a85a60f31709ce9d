"""``fediverse-ai backup`` and ``fediverse-ai restore``."""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config

Loader = Callable[[argparse.Namespace], Config]


def add_backup_commands(sub: Any, *, load: Loader) -> None:
    """Register ``backup`` and ``restore`` on the top-level subparsers."""

    def cmd_backup(args: argparse.Namespace) -> int:
        from .backup import create_backup, default_output

        config = load(args)
        output = Path(args.output) if args.output else default_output()
        manifest = create_backup(config, output, with_cache=args.with_cache)
        counts = manifest["counts"]
        assert isinstance(counts, dict)
        files = manifest["files"]
        assert isinstance(files, dict)
        print(f"wrote {output.resolve()} ({len(files)} files, schema {manifest['schema_version']})")
        print(", ".join(f"{name} {count}" for name, count in counts.items()))
        if not args.with_cache:
            print("remote media cache left out (--with-cache includes it)")
        print("it holds the private keys: keep it where only you can read it")
        return 0

    def cmd_restore(args: argparse.Namespace) -> int:
        from .restore import restore_backup
        from .storage.db import latest_schema

        done = restore_backup(
            Path(args.archive), Path(args.into), force=args.force, schema=latest_schema()
        )
        manifest = done.manifest
        made = manifest.get("created_at", "?")
        print(
            f"restored {manifest.get('instance', '?')} (backup of {made},"
            f" {len(manifest['files'])} files) into {Path(args.into).resolve()}"
        )
        for key in done.relocated:
            member = manifest["layout"].get(key, "?")
            print(f'note: storage.{key} was outside the config\'s directory: set it to "{member}"')
        if _media_kind(done.config) != "local":
            print(
                "note: the config keeps media in a bucket; the archive's media went to"
                f" storage.media_dir: `fediverse-ai --config {done.config} media copy --to s3`"
            )
        print(f"start it with: fediverse-ai --config {done.config} run")
        return 0

    backup = sub.add_parser(
        "backup", help="archive the database (online), media, keys and config into one tar.gz"
    )
    backup.add_argument(
        "--output", "-o", metavar="FILE", help="default: ./fediverse-ai-backup-<UTC time>.tar.gz"
    )
    backup.add_argument(
        "--with-cache", action="store_true", help="include the remote media cache (media_dir/cache)"
    )
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="unpack a backup into a directory, checking it first")
    restore.add_argument("archive", metavar="FILE")
    restore.add_argument("--into", required=True, metavar="DIR", help="an empty (or new) directory")
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore into a non-empty directory, replacing what the backup holds",
    )
    restore.set_defaults(func=cmd_restore)


def _media_kind(config: Path) -> str:
    """``media_store.kind`` of a restored config (read raw: its keys may come from the
    environment of another machine)."""
    try:
        table = tomllib.loads(config.read_text(encoding="utf-8")).get("media_store", {})
    except (OSError, tomllib.TOMLDecodeError):
        return "local"
    kind = table.get("kind", "local") if isinstance(table, dict) else "local"
    return kind if isinstance(kind, str) else "local"
