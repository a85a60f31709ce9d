"""Serve one ASGI app (``module:attr``) on one ASGI server, for the benchmarks.

    python -m bench.serve --server uvicorn --port 8001 bench.apps:bare
    python -m bench.serve --server hypercorn --port 8001 --factory bench.apps:fediverse

Servers: ``uvicorn`` (asyncio loop + h11, what ``fediverse-ai run`` gets from our
dependencies today), ``uvicorn-uvloop`` (uvloop + httptools, ``uvicorn[standard]``; they are
installed into ``.cache/bench-site``, put on ``PYTHONPATH`` by the driver, so that the
project's venv keeps its behaviour), ``hypercorn``, ``granian`` (run through its own CLI, see
:func:`command`). No access log anywhere: the ceiling and our app are served alike.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_SITE = ROOT / ".cache" / "bench-site"
SERVERS = ("uvicorn", "uvicorn-uvloop", "hypercorn", "granian")


def command(
    server: str, target: str, port: int, *, factory: bool = False, workers: int = 1
) -> list[str]:
    """The argv that serves ``target`` on ``server`` at 127.0.0.1:``port`` (``workers``
    processes on one socket: uvicorn only)."""
    if server == "granian":
        granian = Path(sys.executable).with_name("granian")
        argv = [str(granian), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", "1", "--log-level", "warning", "--no-ws"]
        return [*argv, *(["--factory"] if factory else []), target]
    argv = [sys.executable, "-m", "bench.serve", "--server", server, "--port", str(port)]
    argv += ["--workers", str(workers)]
    return [*argv, *(["--factory"] if factory else []), target]


def env_for(server: str) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT)]
    if server == "uvicorn-uvloop":
        paths.insert(0, str(BENCH_SITE))
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _load(target: str, factory: bool) -> Any:
    module, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    return obj() if factory else obj


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", choices=SERVERS, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--factory", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("target")
    args = parser.parse_args()
    if args.server.startswith("uvicorn"):
        import uvicorn

        fast = args.server == "uvicorn-uvloop"
        # An import string: with workers > 1 uvicorn's supervisor runs processes sharing the socket.
        uvicorn.run(
            args.target,
            factory=args.factory,
            workers=args.workers,
            host="127.0.0.1",
            port=args.port,
            loop="uvloop" if fast else "asyncio",
            http="httptools" if fast else "h11",
            log_level="warning",
            access_log=False,
            server_header=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    elif args.server == "hypercorn":
        app = _load(args.target, args.factory)
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"127.0.0.1:{args.port}"]
        config.accesslog = None
        config.loglevel = "WARNING"
        config.graceful_timeout = 10
        asyncio.run(serve(app, config))
    else:
        raise SystemExit(f"{args.server} is served through its own CLI")


if __name__ == "__main__":
    main()
