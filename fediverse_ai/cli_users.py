"""``fediverse-ai user ...``: local accounts, their admin flag and their web password."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from .config import Config
from .errors import FediverseError

Loader = Callable[[argparse.Namespace], Config]
Runner = Callable[[Coroutine[Any, Any, int]], int]


def read_password(args: argparse.Namespace) -> str | None:
    """From stdin (``--password-stdin``, for scripts) or typed twice (``--password``)."""
    from .passwords import check_strength

    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\r\n")
    elif getattr(args, "password", False):
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise FediverseError("the passwords differ")
    else:
        return None
    problem = check_strength(password)
    if problem:
        raise FediverseError(problem)
    return password


async def _store_password(state: Any, actor_id: int, password: str) -> None:
    from .accounts import set_password

    await set_password(state, actor_id, password)


def with_account(
    args: argparse.Namespace, work: Any, *, load: Loader, run: Runner, user_only: bool = False
) -> int:
    """Run ``work(state, account)`` for the account ``args.username`` (not a deleted one)."""
    config = load(args)

    async def go() -> int:
        from .state import open_state
        from .storage import account_data, actors

        async with open_state(config) as state:
            account = await actors.account_by_username(state.db, args.username)
            if account is None or (user_only and account.role != "user"):
                kind = "user" if user_only else "local"
                raise FediverseError(f"no {kind} account {args.username!r}")
            if await account_data.deleted_at(state.db, account.actor.id) is not None:
                raise FediverseError(f"the account {args.username!r} was deleted")
            result: int = await work(state, account)
            return result

    return run(go())


def add_user_commands(sub: Any, *, load: Loader, run: Runner) -> Any:
    """``user add|list|password|admin``; returns the ``user`` subcommands for more."""

    def cmd_add(args: argparse.Namespace) -> int:
        config = load(args)
        password = read_password(args)

        async def go() -> int:
            from .accounts import ensure_account
            from .state import open_state
            from .storage import actors

            async with open_state(config) as state:
                if await actors.account_by_username(state.db, args.username) is not None:
                    raise FediverseError(f"the account {args.username!r} already exists")
                account = await ensure_account(
                    state,
                    args.username,
                    role="user",
                    display_name=args.display_name or "",
                    bio=args.bio or "",
                    is_admin=args.admin,
                )
                if args.locked:
                    await actors.update_local_profile(
                        state.db,
                        account.actor.id,
                        display_name=account.actor.display_name,
                        summary=account.actor.summary,
                        manually_approves=True,
                        now=state.now(),
                    )
                if password is not None:
                    await _store_password(state, account.actor.id, password)
            print(f"created {account.actor.uri} (@{account.actor.username}@{config.instance.host})")
            if password is None:
                print(f"no web password yet: fediverse-ai user password {account.actor.username}")
            return 0

        return run(go())

    def cmd_password(args: argparse.Namespace) -> int:
        config = load(args)

        async def go() -> int:
            from .state import open_state
            from .storage import actors

            async with open_state(config) as state:
                account = await actors.account_by_username(state.db, args.username.lower())
                if account is None or account.role != "user":
                    raise FediverseError(f"no user account {args.username!r}")
                # Asked only once the account is known: no typing a password for nobody.
                args.password = not args.password_stdin
                password = read_password(args)
                assert password is not None
                await _store_password(state, account.actor.id, password)
            print(f"password set for {args.username}")
            return 0

        return run(go())

    def cmd_admin(args: argparse.Namespace) -> int:
        config = load(args)

        async def go() -> int:
            from .state import open_state
            from .storage import actors

            async with open_state(config) as state:
                account = await actors.account_by_username(state.db, args.username.lower())
                if account is None or account.role != "user":
                    raise FediverseError(f"no user account {args.username!r}")
                await actors.set_admin(state.db, account.actor.id, not args.revoke)
            print(f"{args.username} is {'no longer ' if args.revoke else ''}an admin")
            return 0

        return run(go())

    def cmd_list(args: argparse.Namespace) -> int:
        config = load(args)

        async def go() -> int:
            from .state import open_state
            from .storage import actors

            async with open_state(config) as state:
                for account in await actors.list_accounts(state.db):
                    admin = " admin" if account.is_admin else ""
                    print(f"{account.actor.username}\t{account.role}{admin}\t{account.actor.uri}")
            return 0

        return run(go())

    user = sub.add_parser("user", help="manage local accounts").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create a local account")
    add.add_argument("username")
    add.add_argument("--display-name")
    add.add_argument("--bio")
    add.add_argument("--admin", action="store_true", help="may use the admin pages")
    add.add_argument("--locked", action="store_true", help="approve followers by hand")
    pw = add.add_mutually_exclusive_group()
    pw.add_argument("--password", action="store_true", help="set a web password (asks twice)")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_add)
    user.add_parser("list", help="list local accounts").set_defaults(func=cmd_list)
    passwd = user.add_parser("password", help="set the web password of an account")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    passwd.set_defaults(func=cmd_password, password=False)
    admin = user.add_parser("admin", help="give (or with --revoke take) admin rights")
    admin.add_argument("username")
    admin.add_argument("--revoke", action="store_true")
    admin.set_defaults(func=cmd_admin)
    return user
