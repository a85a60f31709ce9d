"""``user profile`` (a local account's profile, the AI's included) and the sign-ups waiting for
approval: ``user signups``, ``user approve-signup``, ``user reject-signup``. The top-level
``requests``/``approve``/``reject`` answer follow requests; these names say which is which."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .cli_users import Loader, Runner
from .errors import FediverseError


def _image(path: str | None) -> bytes | None:
    from .federation.profile_edit import MAX_IMAGE_BYTES

    if path is None:
        return None
    file = Path(path)
    try:
        if file.stat().st_size > MAX_IMAGE_BYTES:
            raise FediverseError(f"{path}: larger than {MAX_IMAGE_BYTES // 2**20} MB")
        return file.read_bytes()
    except OSError as exc:
        raise FediverseError(f"{path}: {exc.strerror}") from None


def _fields(args: argparse.Namespace) -> tuple[tuple[str, str], ...] | None:
    if args.clear_fields:
        return ()
    if not args.field:
        return None
    out = []
    for item in args.field:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise FediverseError(f"--field {item!r}: write it as LABEL=CONTENT")
        out.append((name, value))
    return tuple(out)


def add_account_commands(user: Any, *, load: Loader, run: Runner) -> None:
    def cmd_profile(args: argparse.Namespace) -> int:
        config = load(args)
        from .federation.profile_edit import ProfileChange, check

        change = ProfileChange(
            display_name=args.display_name,
            bio=args.bio,
            fields=_fields(args),
            locked=args.locked,
            bot=args.bot,
            discoverable=args.discoverable,
            indexable=args.indexable,
            avatar=_image(args.avatar),
            header=_image(args.header),
        )
        check(change)

        async def go() -> int:
            from .federation import profile_edit
            from .sanitize import html_to_text
            from .state import open_state
            from .storage import actors

            async with open_state(config) as state:
                account = await actors.account_by_username(state.db, args.username.lower())
                if account is None or account.role == "instance":
                    raise FediverseError(f"no local account {args.username!r}")
                if account.role == "ai" and (change.locked or change.bot is False):
                    raise FediverseError("the AI actor stays an unlocked bot")
                if change != ProfileChange():
                    account = await profile_edit.apply(state, account, change)
                    print(f"profile of {account.actor.username} saved; sent to its followers")
                a = account.actor
                print(f"display name: {a.display_name}")
                print(f"bio: {html_to_text(a.summary or '')}")
                for name, value in profile_edit.plain_fields(a):
                    print(f"field: {name} = {value}")
                print(f"avatar: {a.icon_url or '-'}")
                print(f"header: {a.image_url or '-'}")
                print(
                    f"locked: {a.manually_approves} · bot: {a.is_bot} · "
                    f"discoverable: {a.discoverable} · indexable: {a.indexable}"
                )
            return 0

        return run(go())

    def cmd_signups(args: argparse.Namespace) -> int:
        config = load(args)

        async def go() -> int:
            from .state import open_state
            from .storage import signups

            async with open_state(config) as state:
                rows = await signups.listed(state.db, "rejected" if args.rejected else "pending")
            if not rows:
                print("no rejected sign-ups" if args.rejected else "no sign-ups are waiting")
            for s in rows:
                reason = " ".join(s.reason.split())
                print(f"{s.username}\t{s.email or '-'}\t{reason}")
            return 0

        return run(go())

    def cmd_answer(args: argparse.Namespace) -> int:
        config = load(args)

        async def go() -> int:
            from . import registrations
            from .state import open_state

            async with open_state(config) as state:
                if args.approve:
                    account = await registrations.approve(state, args.username)
                    print(f"approved: {account.actor.username} may log in ({account.actor.uri})")
                else:
                    await registrations.reject(state, args.username)
                    print(f"rejected the sign-up by {args.username}")
            return 0

        return run(go())

    profile = user.add_parser(
        "profile", help="show or edit an account's profile (the AI's too); sent to followers"
    )
    profile.add_argument("username")
    profile.add_argument("--display-name")
    profile.add_argument("--bio", help="plain text; links, @mentions and #hashtags are linked")
    profile.add_argument("--avatar", metavar="FILE", help="an image, re-encoded to 400 px")
    profile.add_argument("--header", metavar="FILE", help="an image, re-encoded to 1500 px")
    profile.add_argument(
        "--field",
        action="append",
        metavar="LABEL=CONTENT",
        help="a profile field (up to 4, repeat the option); replaces all the fields",
    )
    profile.add_argument("--clear-fields", action="store_true", help="remove every field")
    for flag, dest, help_text in (
        ("locked", "locked", "approve followers by hand (--unlocked: anyone may follow)"),
        ("bot", "bot", "mark the account as a bot (--no-bot: a person)"),
        ("discoverable", "discoverable", "suggest the account in directories"),
        ("indexable", "indexable", "let search index its posts"),
    ):
        off = "--unlocked" if flag == "locked" else f"--no-{flag}"
        group = profile.add_mutually_exclusive_group()
        group.add_argument(
            f"--{flag}", dest=dest, action="store_true", default=None, help=help_text
        )
        group.add_argument(off, dest=dest, action="store_false", default=None)
    profile.set_defaults(func=cmd_profile)

    pending = user.add_parser("signups", help="list sign-ups waiting for approval")
    pending.add_argument("--rejected", action="store_true", help="list the rejected ones")
    pending.set_defaults(func=cmd_signups)
    approve = user.add_parser("approve-signup", help="approve a sign-up: the account is made")
    approve.add_argument("username")
    approve.set_defaults(func=cmd_answer, approve=True)
    reject = user.add_parser("reject-signup", help="reject a sign-up")
    reject.add_argument("username")
    reject.set_defaults(func=cmd_answer, approve=False)
