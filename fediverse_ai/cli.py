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
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config, default_config_path, load_config
from .errors import ConfigError, FediverseError

log = logging.getLogger("fediverse_ai")
EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "config.example.toml"


def _load(args: argparse.Namespace) -> Config:
    from .cli_models import with_offline_model

    return with_offline_model(load_config(Path(args.config)), args)


def _port(text: str) -> int:
    port = int(text) if text.isdigit() else 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return port


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
    from .accounts import ensure_builtin_actors, import_key_files
    from .keys import ensure_keys_dir
    from .state import open_state
    from .storage.db import safe_url

    if config.media_store.kind == "local":
        config.storage.media_dir.mkdir(parents=True, exist_ok=True)
    ensure_keys_dir(config.storage.keys_dir)
    async with open_state(config) as state:
        instance, ai = await ensure_builtin_actors(state)
        imported, missing = await import_key_files(state)
    print(f"database: {safe_url(config.storage.database)}")
    if imported:
        print(f"private keys imported from {config.storage.keys_dir} into the database: {imported}")
    for path in missing:
        print(f"warning: key file missing, that account cannot sign: {path}", file=sys.stderr)
    print(f"instance actor: {instance.actor.uri}")
    print(f"AI actor: {ai.actor.uri} (@{ai.actor.username}@{config.instance.host})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    config = _load(args)
    if args.port is not None:
        # One config for every web process of a machine: the systemd template's instance
        # name is the port (deploy/fediverse-ai-web@.service).
        config = replace(config, server=replace(config.server, listen_port=args.port))
    if _run(_init(config)) != 0:
        return 1
    _log_offline_model(config)
    # --no-worker: web only, beside separate `fediverse-ai worker` processes (README).
    app = create_app(config, embedded_worker=False if args.no_worker else None)
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
        if name == "run":
            command.add_argument(
                "--no-worker",
                action="store_true",
                help="serve HTTP only; jobs are left to `fediverse-ai worker` processes"
                " (as server.embedded_worker = false)",
            )
            command.add_argument(
                "--port",
                type=_port,
                help="listen on this port instead of server.listen_port",
            )
        command.set_defaults(func=func)
    add_model_commands(sub)
    sub.add_parser("check-config", help="validate the config file").set_defaults(
        func=cmd_check_config
    )
    from .cli_accounts import add_account_commands
    from .cli_backup import add_backup_commands
    from .cli_db import add_db_commands
    from .cli_emoji import add_emoji_commands
    from .cli_moderation import add_moderation_commands
    from .cli_moves import add_move_commands
    from .cli_ops import add_ops_commands
    from .cli_userdata import add_userdata_commands
    from .cli_users import add_user_commands

    add_ops_commands(sub, load=_load, run=_run)
    add_backup_commands(sub, load=_load)
    add_db_commands(sub, load=_load)
    user = add_user_commands(sub, load=_load, run=_run)
    add_move_commands(user, load=_load, run=_run)
    add_account_commands(user, load=_load, run=_run)
    add_emoji_commands(sub, load=_load, run=_run)
    add_userdata_commands(user, load=_load, run=_run)
    add_moderation_commands(sub, load=_load, run=_run)

    from .cli_acting import add_acting_commands

    add_acting_commands(sub, load=_load, run=_run)
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
