"""One fediverse-ai installation for a benchmark: config, ``init``, a server layout, its DB."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import serve
from .common import WORK, Proc, free_port, start_server, summarize

DOMAIN = "a.test"


def config_toml(port: int, *, embedded_worker: bool = True, extra: str = "") -> str:
    return f"""\
[instance]
domain = "{DOMAIN}"
scheme = "https"
name = "bench"

[server]
listen_host = "127.0.0.1"
listen_port = {port}
trusted_proxy = true
embedded_worker = {str(embedded_worker).lower()}

[storage]
database = "data/db.sqlite3"
media_dir = "data/media"
keys_dir = "keys"

[federation]
allow_private_addresses = true

[web]
# The benchmarks send thousands of API calls on one token; the limiter still counts them.
api_requests_per_five_minutes = 1000000000
{extra}"""


@dataclass
class InstanceDir:
    """An installation's directory under the bench work dir, and its config file."""

    name: str

    @property
    def root(self) -> Path:
        return WORK / self.name

    @property
    def config(self) -> Path:
        return self.root / "config.toml"


@dataclass
class Instance(InstanceDir):
    """``layout``: ``run`` (``fediverse-ai run`` as shipped), or ``SERVER`` or
    ``SERVER+worker`` (our app on that ASGI server; ``+worker``: a separate
    ``fediverse-ai worker`` process instead of the embedded one)."""

    layout: str
    extra_config: str = ""
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)
    spy: subprocess.Popen[bytes] | None = None

    @property
    def db_path(self) -> Path:
        return self.root / "data" / "db.sqlite3"

    @property
    def server(self) -> str:
        return self.layout.split("+")[0].split("*")[0]

    @property
    def web_processes(self) -> int:
        """``SERVER*N``: N web processes on one socket (uvicorn's supervisor)."""
        first = self.layout.split("+")[0]
        return int(first.split("*")[1]) if "*" in first else 1

    def cli_argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "fediverse_ai", "--config", str(self.config), *args]

    def init(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        embedded = not self.layout.endswith("+worker")
        self.config.write_text(
            config_toml(self.port, embedded_worker=embedded, extra=self.extra_config)
        )
        subprocess.run(
            self.cli_argv("init"), check=True, capture_output=True, env=self.env, timeout=120
        )

    def start(self) -> Instance:
        env = {**serve.env_for(self.server), **self.env, "BENCH_CONFIG": str(self.config)}
        if self.layout == "run":
            argv = self.cli_argv("run")
        else:
            env["BENCH_EMBEDDED_WORKER"] = "0" if self.layout.endswith("+worker") else "1"
            argv = serve.command(
                self.server,
                "bench.apps:fediverse",
                self.port,
                factory=True,
                workers=self.web_processes,
            )
        self.procs.append(start_server(f"{self.name}-web", argv, env, self.port, cwd=self.root))
        if self.layout.endswith("+worker"):
            worker = Proc(f"{self.name}-worker", self.cli_argv("worker"), env=env, cwd=self.root)
            self.procs.append(worker.start())
        if os.environ.get("BENCH_PROFILE"):
            self._start_profile()
        return self

    @property
    def profile_path(self) -> Path:
        return WORK / f"{self.name}-profile.txt"

    def _start_profile(self) -> None:
        """BENCH_PROFILE=1: sample the web process with py-spy until :meth:`stop`, which
        prints the heaviest functions. (``--native`` stops the process so often that the
        figures mean nothing.)"""
        spy = Path(sys.executable).with_name("py-spy")
        # --gil: only the thread holding the GIL is sampled, i.e. where the Python CPU goes;
        # without it threads blocked in C (aiosqlite's queue, the event loop's epoll) count too.
        argv = [str(spy), "record", "--format", "raw", "-r", "250", "--threads", "--gil"]
        argv += ["-o", str(self.profile_path), "-p", str(self.procs[0].pid)]
        self.spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _stop_profile(self) -> None:
        if self.spy is None:
            return
        self.spy.send_signal(signal.SIGINT)
        self.spy.wait(60)
        self.spy = None
        if self.profile_path.exists():
            print(f"profile of {self.name} ({self.profile_path}):")
            print(summarize(self.profile_path, top=60))

    def rss_mb(self) -> float:
        return sum(p.rss_mb() for p in self.procs)

    def cpu_seconds(self) -> float:
        return sum(p.cpu_seconds() for p in self.procs)

    def stop(self) -> None:
        self._stop_profile()
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.close()

    def count(self, sql: str, params: tuple[object, ...] = ()) -> int:
        return int(self.query(sql, params)[0][0] or 0)

    def wait_jobs(self, kind: str, total: int, timeout: float) -> float:
        """Wait until ``total`` jobs of ``kind`` are done or failed; returns the time.time()."""
        deadline = time.monotonic() + timeout
        while True:
            finished = self.count(
                "SELECT COUNT(*) FROM jobs WHERE kind = ? AND state IN ('done', 'failed')", (kind,)
            )
            if finished >= total:
                return time.time()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{finished}/{total} {kind} jobs after {timeout}s")
            time.sleep(0.1)

    def db_bytes(self) -> int:
        """Logical size of the database (pages in use, the WAL's included)."""
        rows = self.query("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
        return int(rows[0][0] or 0)
