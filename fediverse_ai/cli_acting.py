"""The commands that act as one local account (``--as NAME``): post, edit, delete, react,
follow and answer follow requests."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from .config import Config
from .errors import FediverseError
from .models import VISIBILITIES, Account, Draft, NewPoll

Loader = Callable[[argparse.Namespace], Config]
Runner = Callable[[Coroutine[Any, Any, int]], int]


def _with_account(
    fn: Callable[[Any, Account, argparse.Namespace], Awaitable[int]], load: Loader, run: Runner
) -> Callable[[argparse.Namespace], int]:
    """Open the state, find the local account named by --as, run ``fn``."""

    def command(args: argparse.Namespace) -> int:
        config = load(args)

        async def go() -> int:
            from .state import open_state
            from .storage import actors

            async with open_state(config) as state:
                account = await actors.account_by_username(state.db, args.as_user)
                if account is None or account.role == "instance":
                    raise FediverseError(f"no local account {args.as_user!r} (see `user list`)")
                for name in ("note", "reply_to", "quote"):
                    if isinstance(url := getattr(args, name, None), str):
                        setattr(args, name, state.urls.note_for_page(url) or url)
                return await fn(state, account, args)

        return run(go())

    return command


async def _post(state: Any, account: Account, args: argparse.Namespace) -> int:
    from .federation import publish
    from .media import process_image

    if len(args.alt) > len(args.attach):
        raise FediverseError("more --alt texts than --attach files")
    attachments = []
    for i, path in enumerate(args.attach):
        processed = process_image(await asyncio.to_thread(Path(path).read_bytes))
        alt = args.alt[i].strip() if i < len(args.alt) else ""
        if not alt and state.config.web.require_alt_text:
            # The rule the web compose form applies: the command line is no way around it.
            raise FediverseError(
                f"{path} needs a description: give one --alt per --attach"
                " (web.require_alt_text = false turns this off)"
            )
        attachments.append(processed.as_attachment(alt))
    text, generated, sensitive = args.text, False, False
    if args.image or args.generate:
        from .ai.base import BackendError
        from .bot.replier import compose_own_post

        try:
            answer = await compose_own_post(
                state, image_prompt=args.image, text_prompt=args.generate
            )
        except BackendError as exc:
            raise FediverseError(f"generation failed: {exc.message}") from None
        text = text or "\n\n".join(answer.parts)
        if answer.footer:
            text += f"\n\n{answer.footer}"
        if answer.attachment is not None:
            attachments.insert(0, answer.attachment)
        generated, sensitive = True, answer.sensitive
    if not text and not attachments:
        raise FediverseError("nothing to post: give a text, --attach, --image or --generate")
    draft = Draft(
        text=text,
        visibility=args.visibility,
        summary=args.cw,
        language=args.language,
        in_reply_to=args.reply_to,
        attachments=tuple(attachments),
        ai_generated=generated,
        sensitive=sensitive,
        poll=NewPoll(tuple(args.poll), args.poll_multiple, args.poll_seconds)
        if args.poll
        else None,
        quote=args.quote,
    )
    note = await publish.publish_note(state, account, draft)
    print(note.uri)
    return 0


async def _edit(state: Any, account: Account, args: argparse.Namespace) -> int:
    from .federation import note_changes

    note = await note_changes.edit_note(state, account, args.note, args.text)
    print(note.uri)
    return 0


async def _delete(state: Any, account: Account, args: argparse.Namespace) -> int:
    from .federation import note_changes

    await note_changes.delete_note(state, account, args.note)
    print(f"deleted {args.note}")
    return 0


def _note_action(name: str) -> Callable[[Any, Account, argparse.Namespace], Awaitable[int]]:
    async def action(state: Any, account: Account, args: argparse.Namespace) -> int:
        from .federation import interactions

        await getattr(interactions, name)(state, account, args.note)
        print(f"{name}: {args.note}")
        return 0

    return action


def _follow_action(name: str) -> Callable[[Any, Account, argparse.Namespace], Awaitable[int]]:
    async def action(state: Any, account: Account, args: argparse.Namespace) -> int:
        from .federation import interactions, resolver

        target = await resolver.resolve_handle(state, args.target)
        await getattr(interactions, name)(state, account, target)
        print(f"{name}: {target.uri}")
        return 0

    return action


async def _requests(state: Any, account: Account, args: argparse.Namespace) -> int:
    from .storage import follows

    for actor in await follows.followers(state.db, account.actor.id, state="pending"):
        print(f"{actor.acct}\t{actor.uri}")
    return 0


def _answer_request(approve: bool) -> Callable[[Any, Account, argparse.Namespace], Awaitable[int]]:
    async def action(state: Any, account: Account, args: argparse.Namespace) -> int:
        from .federation import interactions, resolver

        follower = await resolver.resolve_handle(state, args.target)
        await interactions.answer_follow_request(state, account, follower, approve=approve)
        print(f"{'approved' if approve else 'rejected'}: {follower.uri}")
        return 0

    return action


def add_acting_commands(sub: Any, *, load: Loader, run: Runner) -> None:
    def acting(name: str, help_text: str) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        sp.add_argument("--as", dest="as_user", required=True, help="local username to act as")
        return sp

    post = acting("post", "publish a note")
    post.add_argument("text", nargs="?", default="")
    post.add_argument(
        "--image", metavar="PROMPT", help="generate an image with the AI image backend"
    )
    post.add_argument(
        "--generate", metavar="PROMPT", help="generate the text with the AI text backend"
    )
    post.add_argument("--visibility", choices=VISIBILITIES, default="public")
    post.add_argument(
        "--attach", action="append", default=[], metavar="IMAGE", help="image file (up to 4)"
    )
    post.add_argument(
        "--alt", action="append", default=[], help="alt text, one per --attach, in order"
    )
    post.add_argument("--reply-to", metavar="NOTE_URL")
    post.add_argument("--quote", metavar="NOTE_URL", help="quote this post (FEP-044f)")
    post.add_argument("--cw", help="content warning")
    post.add_argument("--language", help="ISO 639-1 code, e.g. en")
    post.add_argument("--poll", action="append", default=[], metavar="OPTION", help="2 to 4")
    post.add_argument("--poll-multiple", action="store_true", help="allow several choices")
    post.add_argument("--poll-seconds", type=int, default=86400, help="300 to 604800")
    post.set_defaults(func=_with_account(_post, load, run))
    edit = acting("edit", "edit one of your notes")
    edit.add_argument("note", metavar="NOTE_URL")
    edit.add_argument("text")
    edit.set_defaults(func=_with_account(_edit, load, run))
    delete = acting("delete", "delete one of your notes")
    delete.add_argument("note", metavar="NOTE_URL")
    delete.set_defaults(func=_with_account(_delete, load, run))
    for name in ("like", "unlike", "boost", "unboost"):
        sp = acting(name, f"{name} a note")
        sp.add_argument("note", metavar="NOTE_URL")
        sp.set_defaults(func=_with_account(_note_action(name), load, run))
    for name in ("follow", "unfollow"):
        sp = acting(name, f"{name} an account (user@domain, @name for a local one, or actor URL)")
        sp.add_argument("target", metavar="HANDLE")
        sp.set_defaults(func=_with_account(_follow_action(name), load, run))
    acting("requests", "list pending follow requests").set_defaults(
        func=_with_account(_requests, load, run)
    )
    for name, approve in (("approve", True), ("reject", False)):
        sp = acting(name, f"{name} a follow request (user@domain or actor URL)")
        sp.add_argument("target", metavar="HANDLE")
        sp.set_defaults(func=_with_account(_answer_request(approve), load, run))
