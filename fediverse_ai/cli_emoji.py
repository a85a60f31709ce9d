"""``fediverse-ai emoji add|list|remove``: the instance's custom emoji."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_users import Loader, Runner

if TYPE_CHECKING:
    from .state import State

Action = Callable[["State", argparse.Namespace], Awaitable[None]]


def _read(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:  # an OSError is reported by main()
        return f.read(limit)


async def _add(state: State, args: argparse.Namespace) -> None:
    from .custom_emoji import add_local, file_url
    from .emoji_image import MAX_BYTES

    data = await asyncio.to_thread(_read, Path(args.file), MAX_BYTES + 1)
    added = await add_local(state, args.shortcode.strip(":"), data, category=args.category)
    print(f":{added.shortcode}: {added.width}x{added.height} {file_url(state, added)}")


async def _list(state: State, args: argparse.Namespace) -> None:
    from .custom_emoji import file_url
    from .storage import custom_emojis

    for e in await custom_emojis.all_emoji(state.db):
        print(f":{e.shortcode}:\t{e.category or ''}\t{file_url(state, e)}")


async def _remove(state: State, args: argparse.Namespace) -> None:
    from .custom_emoji import remove_local

    removed = await remove_local(state, args.shortcode.strip(":"))
    print(f"removed :{removed.shortcode}:")


def add_emoji_commands(sub: Any, *, load: Loader, run: Runner) -> None:
    def command(action: Action) -> Callable[[argparse.Namespace], int]:
        def go(args: argparse.Namespace) -> int:
            config = load(args)

            async def with_state() -> int:
                from .state import open_state

                async with open_state(config) as state:
                    await action(state, args)
                return 0

            return run(with_state())

        return go

    emoji = sub.add_parser("emoji", help="manage the instance's custom emoji").add_subparsers(
        dest="emoji_command", required=True
    )
    add = emoji.add_parser("add", help="add a custom emoji from a PNG, GIF or WebP file")
    add.add_argument("shortcode", help="letters, digits and underscores, e.g. blobcat")
    add.add_argument("file", help="the picture (at most 256 KB and 1024x1024 pixels)")
    add.add_argument("--category", help="a group name shown in apps' emoji pickers")
    add.set_defaults(func=command(_add))
    emoji.add_parser("list", help="list the custom emoji").set_defaults(func=command(_list))
    remove = emoji.add_parser("remove", help="remove a custom emoji")
    remove.add_argument("shortcode")
    remove.set_defaults(func=command(_remove))
