"""``fediverse-ai moderation ...``: what the admin page's moderation does, from the shell
(``federation/moderation.py``): list and resolve reports (with the moderation assist's
summary and suggested action, labelled machine-written), list and dismiss flagged posts,
suspend and silence accounts (and undo), remove a post."""

from __future__ import annotations

import argparse
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from .cli_users import Loader, Runner
from .errors import FediverseError

Work = Callable[[Any, argparse.Namespace], Awaitable[int]]


async def find_account(state: Any, name: str) -> Any:
    """A local username, ``user@domain`` or an actor URL: what we know first, else WebFinger
    (an account can be suspended before it ever wrote to us)."""
    from .federation import resolver
    from .storage import actors

    name = name.strip().lstrip("@")
    if name.startswith(("https://", "http://")):
        found = await actors.by_uri(state.db, name)
    elif "@" in name:
        user, _, domain = name.partition("@")
        found = await actors.by_acct(state.db, user.lower(), domain.lower())
        if found is None and domain.lower() in (
            state.config.instance.domain,
            state.config.instance.host,
        ):
            found = await actors.local_by_username(state.db, user.lower())
    else:
        found = await actors.local_by_username(state.db, name.lower())
        if found is None:
            raise FediverseError(f"no local account {name!r} (see `user list`)")
    return found if found is not None else await resolver.resolve_handle(state, name)


async def _find_post(state: Any, ref: str) -> Any:
    from .storage import notes

    ref = ref.strip()
    note = await notes.by_id(state.db, int(ref)) if ref.isascii() and ref.isdigit() else None
    if note is None:
        note = await notes.by_uri(state.db, ref)
    if note is None:
        note = await notes.by_url(state.db, ref)
    if note is None:
        raise FediverseError(f"no stored post {ref!r}")
    return note


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _terminal_safe(text: str) -> str:
    """Someone else's words on one line, without the control characters (escape sequences)
    that would let a remote post or a model's answer rewrite the admin's terminal."""
    kept = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(kept.split())


def _summary_lines(summary: Any) -> list[str]:
    """A report's summary, saying who wrote it: the model, or the scores alone."""
    if summary is None:
        return ["\tsummary: not written yet (the worker has not run its job)"]
    if summary.source == "model":
        by = f"machine-written by {summary.backend}/{summary.model}"
    else:
        by = "from the scores, no model"
    return [
        f"\tsummary ({by}): {_terminal_safe(summary.summary)}",
        f"\tsuggested action ({by}): {summary.suggested}",
        f"\tscores (machine-written by the moderation models): {_terminal_safe(summary.facts)}",
    ]


async def _reports(state: Any, args: argparse.Namespace) -> int:
    from .storage import mod_assist, reactions

    found = await reactions.list_reports(state.db, include_resolved=args.all)
    summaries = {}
    if state.config.ai_moderation.assist:
        summaries = await mod_assist.summaries_of(state.db, [r.id for r in found])
    for r in found:
        kind = "local" if r.local else "remote"
        about = " ".join([r.target_uri or "", *r.object_uris]).strip() or "-"
        done = f"resolved {_when(r.resolved_at)}" if r.resolved_at else "open"
        forwarded = " forwarded" if r.forwarded else ""
        print(f"{r.id}\t{_when(r.created_at)}\t{kind}{forwarded}\t{done}\t{r.reporter_uri}")
        print(f"\tabout: {about}")
        print(f"\tcomment: {_terminal_safe(r.content) or '(none)'}")
        if state.config.ai_moderation.assist or r.id in summaries:
            print("\n".join(_summary_lines(summaries.get(r.id))))
    if not found:
        print("no open reports" if not args.all else "no reports")
    return 0


async def _flags(state: Any, args: argparse.Namespace) -> int:
    from .foryou.embedding import note_text
    from .modassist import flags
    from .storage import mod_assist

    if args.dismiss is not None:
        note = await _find_post(state, str(args.dismiss))
        if await mod_assist.dismiss(state.db, note.id, now=state.now()):
            print(f"dismissed the flags of post {note.id}")
        else:
            print(f"post {note.id} had no open flag")
        return 0
    if not state.config.ai_moderation.assist:
        print("moderation assist is off (assist = true in [ai.moderation] turns it on)")
        return 0
    found = await flags.open_flags(state, limit=args.limit)
    for f in found:
        print(f"{f.note.id}\t{f.author.acct}\t{f.note.uri}")
        print(f"\tflagged (machine-written, by the moderation models): {' · '.join(f.reasons)}")
        text = _terminal_safe(note_text(f.note))
        if text:
            print(f"\ttext: {text[:200]}")
    if not found:
        print("no flagged posts")
    print(flags.not_consented_line(await flags.not_consented(state)))
    return 0


async def _accounts(state: Any, args: argparse.Namespace) -> int:
    from .storage import moderation

    found = await moderation.moderated(state.db)
    for actor, standing in found:
        marks = (("suspended", standing.suspended), ("silenced", standing.silenced))
        print(f"{actor.acct}\t{','.join(m for m, on in marks if on)}\t{actor.uri}")
    if not found:
        print("no suspended or silenced accounts")
    return 0


def _account_action(name: str) -> Work:
    async def work(state: Any, args: argparse.Namespace) -> int:
        from .federation import moderation

        target = await find_account(state, args.account)
        await moderation.ACCOUNT_ACTIONS[name](state, target)
        print(f"{name.removesuffix('e')}ed: {target.acct} ({target.uri})")
        return 0

    return work


async def _remove_post(state: Any, args: argparse.Namespace) -> int:
    from .federation import moderation

    note = await _find_post(state, args.post)
    await moderation.remove_post(state, note)
    print(f"removed {note.uri}{' (a Delete is sent)' if note.local else ''}")
    return 0


async def _resolve(state: Any, args: argparse.Namespace) -> int:
    from .storage import reactions

    if await reactions.report_by_id(state.db, args.id) is None:
        raise FediverseError(f"no report {args.id}")
    if not await reactions.resolve_report(state.db, args.id, now=state.now()):
        print(f"report {args.id} was resolved already")
        return 0
    print(f"resolved report {args.id}")
    return 0


def add_moderation_commands(sub: Any, *, load: Loader, run: Runner) -> None:
    def command(work: Work) -> Callable[[argparse.Namespace], int]:
        def go(args: argparse.Namespace) -> int:
            config = load(args)

            async def body() -> int:
                from .state import open_state

                async with open_state(config) as state:
                    return await work(state, args)

            return run(body())

        return go

    mod = sub.add_parser("moderation", help="reports, suspensions, silences, removed posts")
    cmds = mod.add_subparsers(dest="moderation_command", required=True, metavar="ACTION")
    reports = cmds.add_parser("reports", help="list open reports (local and from other servers)")
    reports.add_argument("--all", action="store_true", help="resolved ones too")
    reports.set_defaults(func=command(_reports))
    flagged = cmds.add_parser(
        "flags", help="list posts the moderation models flagged (machine scores), worst first"
    )
    flagged.add_argument("--dismiss", metavar="ID", help="dismiss a post's flags (id or URL)")
    flagged.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    flagged.set_defaults(func=command(_flags))
    cmds.add_parser("accounts", help="list suspended and silenced accounts").set_defaults(
        func=command(_accounts)
    )
    for name, text in (
        ("suspend", "hide an account's posts; a local one cannot log in, a remote one is refused"),
        ("unsuspend", "lift a suspension"),
        ("silence", "keep an account's posts off the public timelines and For-you"),
        ("unsilence", "lift a silence"),
    ):
        sp = cmds.add_parser(name, help=text)
        sp.add_argument("account", metavar="ACCOUNT", help="username, user@domain or actor URL")
        sp.set_defaults(func=command(_account_action(name)))
    remove = cmds.add_parser("remove-post", help="delete a post (a local one federates Delete)")
    remove.add_argument("post", metavar="URL_OR_ID", help="the post's id, URL or number here")
    remove.set_defaults(func=command(_remove_post))
    resolve = cmds.add_parser("resolve", help="mark a report resolved")
    resolve.add_argument("id", type=int, metavar="ID")
    resolve.set_defaults(func=command(_resolve))
