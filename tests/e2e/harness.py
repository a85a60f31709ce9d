"""Instances of our server as separate processes, for end-to-end tests.

An :class:`Instance` is one installation, as an operator would have it: a config file, a data
directory, ``fediverse-ai init`` then ``fediverse-ai run``, reached only through the nginx of
:class:`~.network.TLSNetwork` at ``https://<domain>``. Tests drive it with the CLI
(:meth:`Instance.cli`) and observe it over HTTPS (:meth:`Instance.client`), as a user and a
remote server would, and wait for federation to happen with :func:`wait_until`.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
from support.dbread import Row, read_rows
from support.postgres import suite_database

from .network import TLSFiles
from .procs import (
    find_binary,
    free_port,
    register_cleanup,
    spawn,
    tail,
    terminate,
    unregister_cleanup,
)

T = TypeVar("T")

CLI_TIMEOUT_SECONDS = 60.0
DEFAULT_DATABASE = "data/db.sqlite3"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0

# Instances not yet stopped, whose logs a failing test or wait_until shows.
_live: list[Instance] = []


def live_instances() -> list[Instance]:
    return list(_live)


def missing_requirements() -> str | None:
    """Why the e2e tests cannot run here, or None when they can."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (needed for /etc/hosts and port 443)")
    for binary in ("nginx", "openssl"):
        if find_binary(binary) is None:
            problems.append(f"{binary} not installed")
    if not problems:
        return None
    return "; ".join(problems) + " — run `bash scripts/install-test-deps.sh` as root"


def cli_available() -> bool:
    return importlib.util.find_spec("fediverse_ai.cli") is not None


def _cli_argv() -> list[str]:
    if importlib.util.find_spec("fediverse_ai.__main__") is not None:
        return [sys.executable, "-m", "fediverse_ai"]
    # The console script's entry point, for as long as the package has no __main__.
    return [sys.executable, "-c", "import sys; from fediverse_ai.cli import main; sys.exit(main())"]


def config_toml(
    *,
    domain: str,
    name: str,
    port: int,
    federation: str = "allow_private_addresses = true",
    extra_toml: str = "",
    database: str = DEFAULT_DATABASE,
) -> str:
    """``federation``: the [federation] section's lines; ``extra_toml``: more sections;
    ``database``: ``storage.database`` (a SQLite path relative to the data directory, or a
    ``postgresql://`` URL)."""
    return f"""\
[instance]
domain = "{domain}"
scheme = "https"
name = "{name}"

[server]
listen_host = "127.0.0.1"
listen_port = {port}
trusted_proxy = true
embedded_worker = true

[storage]
database = "{database}"
media_dir = "data/media"
keys_dir = "keys"

[federation]
{federation}

[worker]
poll_interval_seconds = 0.2

{extra_toml}
"""


class Instance:
    """One server installation behind nginx at ``https://<domain>``."""

    def __init__(
        self,
        *,
        name: str,
        domain: str,
        root: Path,
        tls: TLSFiles,
        command: list[str] | None = None,
        federation: str = "allow_private_addresses = true",
        extra_toml: str = "",
        database: str | None = None,
    ) -> None:
        """``command`` replaces ``python -m fediverse_ai`` (the harness's own tests use a
        stand-in server); ``federation`` and ``extra_toml`` go into the config
        (:func:`config_toml`); ``database`` too, by default a SQLite file in the data directory,
        or a fresh schema of the suite's cluster when the suite runs on PostgreSQL."""
        self.name = name
        self.command = command if command is not None else _cli_argv()
        self.domain = domain
        self.base_url = f"https://{domain}"
        self.data_dir = root / domain
        self.config_path = self.data_dir / "config.toml"
        self.log_path = self.data_dir / "server.log"
        self.tls = tls
        self.port = free_port()
        self.database = database if database is not None else suite_database(DEFAULT_DATABASE)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            config_toml(
                domain=domain,
                name=name,
                port=self.port,
                federation=federation,
                extra_toml=extra_toml,
                database=self.database,
            )
        )

    def __repr__(self) -> str:
        return f"<Instance {self.domain} port={self.port} running={self.running}>"

    # --- naming helpers -----------------------------------------------------------------

    def actor_url(self, username: str = "ai") -> str:
        return f"{self.base_url}/users/{username}"

    def handle(self, username: str = "ai") -> str:
        return f"{username}@{self.domain}"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """``sql`` (SQLite's dialect) on this instance's database, read from outside its
        processes, on either backend (:func:`support.dbread.read_rows`)."""
        return read_rows(self.database, sql, params, base=self.data_dir)

    # --- processes ----------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            FEDIVERSE_AI_CONFIG=str(self.config_path),
            SSL_CERT_FILE=str(self.tls.bundle),
            PYTHONUNBUFFERED="1",
        )
        env.pop("SSL_CERT_DIR", None)
        return env

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def cli(
        self,
        *args: str,
        check: bool = True,
        timeout: float = CLI_TIMEOUT_SECONDS,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``fediverse-ai --config <ours> <args>`` to completion, output captured;
        ``stdin``: what it reads (a ``--password-stdin``), else nothing."""
        argv = [*self.command, "--config", str(self.config_path), *args]
        try:
            result = subprocess.run(
                argv,
                cwd=self.data_dir,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                input=stdin,
                stdin=subprocess.DEVNULL if stdin is None else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"[{self.domain}] `fediverse-ai {' '.join(args)}` timed out after {timeout}s\n"
                f"--- stdout ---\n{_text(exc.stdout)}\n--- stderr ---\n{_text(exc.stderr)}"
            ) from None
        if check and result.returncode != 0:
            raise AssertionError(
                f"[{self.domain}] `fediverse-ai {' '.join(args)}` exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def start(self, timeout: float = START_TIMEOUT_SECONDS, *, init: bool = True) -> Instance:
        """``init`` (idempotent; ``init=False`` skips it, for restarts that must be quick),
        then ``run`` in the background until NodeInfo answers through nginx."""
        if self.running:
            return self
        if init:
            self.cli("init")
        self._log = self.log_path.open("ab")
        self._log.write(f"\n===== e2e harness: starting {self.domain} =====\n".encode())
        self._log.flush()
        self._proc = spawn(
            [*self.command, "--config", str(self.config_path), "run"],
            log=self._log,
            env=self.env,
            cwd=self.data_dir,
        )
        if self not in _live:
            _live.append(self)
        register_cleanup(self.stop)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no attempt"
        with self.client(timeout=2.0) as client:
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    raise AssertionError(
                        f"[{self.domain}] `fediverse-ai run` exited with {self._proc.returncode} "
                        f"before serving:\n{self.log_tail()}"
                    )
                try:
                    response = client.get("/.well-known/nodeinfo")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"[{self.domain}] GET {self.base_url}/.well-known/nodeinfo did not "
                        f"return 200 within {timeout}s (last: {last})\n{self.log_tail()}"
                    )
                time.sleep(0.2)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM by PID, SIGKILL after ``timeout``; safe to call more than once."""
        self._halt(signal.SIGTERM, timeout)

    def kill9(self) -> None:
        """Die as in a crash or an OOM kill: no shutdown code runs."""
        self._halt(signal.SIGKILL, STOP_TIMEOUT_SECONDS)

    def _halt(self, sig: int, timeout: float) -> None:
        unregister_cleanup(self.stop)
        try:
            if self._proc is not None:
                terminate(self._proc, sig=sig, timeout=timeout)
        finally:
            self._proc = None
            if self._log is not None:
                self._log.close()
                self._log = None

    def restart(self, *, crash: bool = False) -> Instance:
        if crash:
            self.kill9()
        else:
            self.stop()
        return self.start()

    def close(self) -> None:
        """Stop for good (end of the fixture)."""
        self.stop()
        if self in _live:
            _live.remove(self)

    def log_tail(self, lines: int = 60) -> str:
        return f"----- {self.domain} server log (last {lines} lines) -----\n" + tail(
            self.log_path, lines
        )

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client that trusts our CA and talks to this instance through nginx."""
        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(
            verify=ssl.create_default_context(cafile=str(self.tls.bundle)),
            base_url=self.base_url,
            trust_env=False,
            **kwargs,
        )


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float = 20.0,
    interval: float = 0.2,
    message: str = "condition not met",
    instances: Iterable[Instance] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Exceptions from the predicate count as "not yet" (the last one is reported). On timeout
    fail with ``message`` and the log tails of ``instances`` (default: every live instance),
    since the reason federation did not happen is nearly always in a server log.
    """
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    parts = [f"wait_until timed out after {timeout}s: {message}"]
    if last_error is not None:
        parts.append(f"last exception from the predicate: {last_error!r}")
    for instance in instances if instances is not None else live_instances():
        parts.append(instance.log_tail())
    raise AssertionError("\n".join(parts))
