"""``fediverse-ai user export|import|delete``: a local account's data, from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .cli_users import Loader, Runner, with_account


def add_userdata_commands(user: Any, *, load: Loader, run: Runner) -> None:
    def session(args: argparse.Namespace, work: Any) -> int:
        return with_account(args, work, load=load, run=run, user_only=True)

    def cmd_export(args: argparse.Namespace) -> int:
        async def work(state: Any, account: Any) -> int:
            from .userdata.archive import export_to

            size = await export_to(state, account, Path(args.to))
            print(f"wrote {args.to} ({size} bytes)")
            return 0

        return session(args, work)

    def cmd_import(args: argparse.Namespace) -> int:
        async def work(state: Any, account: Any) -> int:
            from .userdata.importer import import_archive

            found = await import_archive(state, account, Path(args.archive), federate=args.federate)
            print(
                f"imported {found.posts} posts with {found.pictures} pictures"
                f" ({found.skipped} skipped: already there, or not posts)"
            )
            if found.refused_pictures:
                print(f"{found.refused_pictures} attachments left out: not pictures, or too large")
            return 0

        return session(args, work)

    def cmd_delete(args: argparse.Namespace) -> int:
        if not args.yes:
            answer = input(f"delete {args.username} and all their posts for good? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("not deleted")
                return 1

        async def work(state: Any, account: Any) -> int:
            from .userdata.deletion import delete_account

            await delete_account(state, account)
            print(
                f"deleted {account.actor.uri}; its Delete goes out with the worker, and what is"
                f" left is purged after {state.config.accounts.deletion_grace_days} days"
            )
            return 0

        return session(args, work)

    export = user.add_parser("export", help="write an account's archive (Mastodon's layout)")
    export.add_argument("username")
    export.add_argument("--to", required=True, metavar="FILE.zip")
    export.set_defaults(func=cmd_export)
    imp = user.add_parser("import", help="recreate an archive's posts in an account")
    imp.add_argument("username")
    imp.add_argument("archive", metavar="FILE.zip")
    imp.add_argument(
        "--federate", action="store_true", help="send the new posts to the account's followers"
    )
    imp.set_defaults(func=cmd_import)
    delete = user.add_parser("delete", help="delete an account (federated) and purge it later")
    delete.add_argument("username")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    delete.set_defaults(func=cmd_delete)
