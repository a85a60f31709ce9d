"""The `fediverse-ai` command line.

Every command takes ``--config PATH`` (or FEDIVERSE_AI_CONFIG); errors print a
clear message and exit non-zero (1 for user errors, 2 for usage errors).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config, default_config_path, load_config
from .errors import ConfigError, FediverseError
from .models import VISIBILITIES, Account, Draft, NewPoll

log = logging.getLogger("fediverse_ai")
EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "config.example.toml"


def _load(args: argparse.Namespace) -> Config:
    from .cli_models import with_offline_model

    return with_offline_model(load_config(Path(args.config)), args)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    print(f"{args.config}: OK ({config.instance.base_url})")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from .cli_models import init_choice, written_config
    from .config_ai import DEFAULT_LARGE_MODEL_PATH

    path = Path(args.config)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if EXAMPLE_CONFIG.exists():
            model = init_choice(
                args.offline_model, path.resolve().parent / DEFAULT_LARGE_MODEL_PATH
            )
            path.write_text(written_config(EXAMPLE_CONFIG.read_text(), model))
            print(f"offline text model: {model} (ai.text.offline_model)")
        else:
            path.write_text("# fediverse-ai configuration; see config.example.toml\n")
        print(
            f"wrote {path} (edit it, then run `fediverse-ai init` again if you change the domain)"
        )
    return _run(_init(_load(args)))


async def _init(config: Config) -> int:
    from .accounts import ensure_builtin_actors
    from .keys import ensure_keys_dir
    from .state import open_state

    config.storage.media_dir.mkdir(parents=True, exist_ok=True)
    ensure_keys_dir(config.storage.keys_dir)
    async with open_state(config) as state:
        instance, ai = await ensure_builtin_actors(state)
    print(f"database: {config.storage.database}")
    print(f"instance actor: {instance.actor.uri}")
    print(f"AI actor: {ai.actor.uri} (@{ai.actor.username}@{config.instance.host})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    config = _load(args)
    if _run(_init(config)) != 0:
        return 1
    _log_offline_model(config)
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.server.listen_host,
            port=config.server.listen_port,
            log_level="info",
            # One line per request costs about a tenth of the inbox throughput; the reverse
            # proxy in front logs requests already (BENCHMARKS.md).
            access_log=config.server.access_log,
            proxy_headers=False,
            server_header=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    )
    print(
        f"serving {config.instance.base_url} on http://{config.server.listen_host}:{config.server.listen_port}"
    )
    server.run()
    return 0


def _log_offline_model(config: Config) -> None:
    """Said at start-up, so that a missing large model is seen before the first mention."""
    if config.ai_text.backend == "offline":
        from .bot.services import offline_choice

        offline_choice(config, announce=True)


def cmd_worker(args: argparse.Namespace) -> int:
    config = _load(args)
    _log_offline_model(config)
    return _run(_worker(config))


async def _worker(config: Config) -> int:
    from .state import open_state
    from .worker import Worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_state(config) as state:
        print("worker running; Ctrl-C to stop")
        await Worker(state).run(stop)
    return 0


def _with_account(
    fn: Callable[[Any, Account, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    """Open the state, find the local account named by --as, run ``fn``."""

    def command(args: argparse.Namespace) -> int:
        config = _load(args)

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

        return _run(go())

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


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop  # what uvicorn serves `run` with; deliveries are cheaper on it
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


class _Parser(argparse.ArgumentParser):
    """Every command, at every level, also takes ``--config`` and ``-v`` after its name, as
    people type them (``fediverse-ai user list --config x.toml``); SUPPRESS leaves the value
    given before the command, or the default, when the option is not repeated."""

    def __init__(self, *args: Any, top: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if top:
            return
        self.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        self.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fediverse-ai", description=__doc__.split("\n")[0] if __doc__ else None, top=True
    )
    p.add_argument("--version", action="version", version=f"fediverse-ai {__version__}")
    p.add_argument(
        "--config",
        default=str(default_config_path()),
        help="config file (default: $FEDIVERSE_AI_CONFIG or ./config.toml)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    from .cli_models import add_model_commands, add_offline_model_option

    for name, func, help_text in (
        ("init", cmd_init, "write a config if missing, create keys, database and built-in actors"),
        ("run", cmd_run, "serve HTTP with the background worker"),
        ("worker", cmd_worker, "run only the background worker"),
    ):
        command = sub.add_parser(name, help=help_text)
        add_offline_model_option(command)
        command.set_defaults(func=func)
    add_model_commands(sub)
    sub.add_parser("check-config", help="validate the config file").set_defaults(
        func=cmd_check_config
    )
    from .cli_accounts import add_account_commands
    from .cli_backup import add_backup_commands
    from .cli_emoji import add_emoji_commands
    from .cli_moderation import add_moderation_commands
    from .cli_moves import add_move_commands
    from .cli_ops import add_ops_commands
    from .cli_userdata import add_userdata_commands
    from .cli_users import add_user_commands

    add_ops_commands(sub, load=_load, run=_run)
    add_backup_commands(sub, load=_load)
    user = add_user_commands(sub, load=_load, run=_run)
    add_move_commands(user, load=_load, run=_run)
    add_account_commands(user, load=_load, run=_run)
    add_emoji_commands(sub, load=_load, run=_run)
    add_userdata_commands(user, load=_load, run=_run)
    add_moderation_commands(sub, load=_load, run=_run)

    def acting(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
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
    post.set_defaults(func=_with_account(_post))
    edit = acting("edit", "edit one of your notes")
    edit.add_argument("note", metavar="NOTE_URL")
    edit.add_argument("text")
    edit.set_defaults(func=_with_account(_edit))
    delete = acting("delete", "delete one of your notes")
    delete.add_argument("note", metavar="NOTE_URL")
    delete.set_defaults(func=_with_account(_delete))
    for name in ("like", "unlike", "boost", "unboost"):
        sp = acting(name, f"{name} a note")
        sp.add_argument("note", metavar="NOTE_URL")
        sp.set_defaults(func=_with_account(_note_action(name)))
    for name in ("follow", "unfollow"):
        sp = acting(name, f"{name} an account (user@domain, @name for a local one, or actor URL)")
        sp.add_argument("target", metavar="HANDLE")
        sp.set_defaults(func=_with_account(_follow_action(name)))
    acting("requests", "list pending follow requests").set_defaults(func=_with_account(_requests))
    for name, approve in (("approve", True), ("reject", False)):
        sp = acting(name, f"{name} a follow request (user@domain or actor URL)")
        sp.add_argument("target", metavar="HANDLE")
        sp.set_defaults(func=_with_account(_answer_request(approve)))
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        result: int = args.func(args)
        return result
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except FediverseError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            print("interrupted", file=sys.stderr)
        return 130
