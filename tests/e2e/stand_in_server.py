"""A stand-in for ``fediverse-ai``, so that the harness's own tests need no server of ours.

Same command line shape (``--config PATH init|run|echo ARGS``), same config file; ``run``
serves NodeInfo discovery and echoes the proxy headers it received, and logs the signals
it gets, so that tests can tell a graceful stop from a SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print("request:", format % args, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("command")
    parser.add_argument("args", nargs="*")
    options = parser.parse_args()
    config = tomllib.loads(options.config.read_text())
    data = options.config.parent / "data"
    if options.command == "init":
        data.mkdir(exist_ok=True)
        with (data / "init-count").open("a") as counter:
            counter.write("x")
        print("initialised", config["instance"]["domain"])
        return 0
    if options.command == "echo":
        print(" ".join(options.args))
        return 0
    if options.command == "fail":
        print("this goes wrong", file=sys.stderr)
        return 3
    if options.command != "run":
        return 2
    server = ThreadingHTTPServer(("127.0.0.1", config["server"]["listen_port"]), _Handler)

    def on_term(signum: int, frame: FrameType | None) -> None:
        print("graceful shutdown on SIGTERM", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    print("serving", config["instance"]["domain"], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
