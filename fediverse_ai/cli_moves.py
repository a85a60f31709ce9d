"""``user alias``, ``user move``, ``user export-follows``, ``user import-follows``: moving an
account between servers, as Mastodon users do (``federation/moves.py``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .cli_users import Loader, Runner, with_account


def add_move_commands(user: Any, *, load: Loader, run: Runner) -> None:
    def session(args: argparse.Namespace, work: Any) -> int:
        return with_account(args, work, load=load, run=run)

    def cmd_alias(args: argparse.Namespace) -> int:
        async def work(state: Any, account: Any) -> int:
            from .federation import moves, resolver
            from .storage import actors

            current = [
                a
                for uri in account.actor.also_known_as
                if (a := await actors.by_uri(state.db, uri))
            ]
            if args.add:
                current.append(await resolver.resolve_handle(state, args.add))
            if args.remove:
                gone = await resolver.resolve_handle(state, args.remove)
                current = [a for a in current if a.uri != gone.uri]
            if args.add or args.remove:
                account = await moves.set_aliases(state, account, current)
            for uri in account.actor.also_known_as:
                print(uri)
            return 0

        return session(args, work)

    def cmd_move(args: argparse.Namespace) -> int:
        async def work(state: Any, account: Any) -> int:
            from .federation import moves, resolver

            target = await resolver.resolve_handle(state, args.to)
            moved = await moves.move(state, account, target)
            print(f"{moved.actor.uri} moved to {moved.actor.moved_to}; its followers are told")
            return 0

        return session(args, work)

    def cmd_export(args: argparse.Namespace) -> int:
        exported: list[str] = []

        async def work(state: Any, account: Any) -> int:
            from .federation import moves

            exported.append(await moves.export_follows(state, account))
            return 0

        status = session(args, work)
        if status == 0 and args.file:
            Path(args.file).write_text(exported[0], encoding="utf-8")
        elif status == 0:
            sys.stdout.write(exported[0])
        return status

    def cmd_import(args: argparse.Namespace) -> int:
        text = Path(args.file).read_text(encoding="utf-8") if args.file != "-" else sys.stdin.read()

        async def work(state: Any, account: Any) -> int:
            from .federation import moves

            results = await moves.import_follows(state, account, text)
            for address, outcome in results:
                print(f"{address}\t{outcome}")
            return 0 if all(not o.startswith("not") for _, o in results) else 1

        return session(args, work)

    alias = user.add_parser(
        "alias", help="list, add or remove the account's aliases (alsoKnownAs), before a move here"
    )
    alias.add_argument("username")
    alias.add_argument("--add", metavar="HANDLE", help="user@host or an actor URL")
    alias.add_argument("--remove", metavar="HANDLE")
    alias.set_defaults(func=cmd_alias)
    move = user.add_parser("move", help="move the account to another (which must alias it first)")
    move.add_argument("username")
    move.add_argument("--to", required=True, metavar="HANDLE", help="the new account, user@host")
    move.set_defaults(func=cmd_move)
    export = user.add_parser("export-follows", help="the accounts followed, as Mastodon's CSV")
    export.add_argument("username")
    export.add_argument("--file", help="write here instead of standard output")
    export.set_defaults(func=cmd_export)
    imp = user.add_parser("import-follows", help="follow every account of a Mastodon follows CSV")
    imp.add_argument("username")
    imp.add_argument("file", help="the CSV file, or - for standard input")
    imp.set_defaults(func=cmd_import)
