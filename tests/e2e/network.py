"""The production-shaped network the end-to-end tests run in: TLS, host names, nginx.

Each test host (``a.test``, ``b.test``) gets its own loopback address in /etc/hosts and an
``<ip>:443 ssl`` server block in one nginx process, which terminates TLS with a certificate
from a throw-away CA and proxies to the instance's plain-HTTP backend on 127.0.0.1, setting
the ``X-Forwarded-*`` headers a real deployment sets. Ids are therefore ``https://a.test/...``
exactly as in production, and each instance trusts the other through ``SSL_CERT_FILE``.

Everything this module starts or writes is undone by :meth:`TLSNetwork.close`, which the
fixtures call in ``finally`` and :mod:`atexit` calls as a backstop. Child processes also get
``PR_SET_PDEATHSIG`` so that they go when the test process is killed outright, and the marked
/etc/hosts lines of such a run are removed by the next one. A file lock keeps two test runs on
one machine from fighting over port 443 and /etc/hosts: the second waits for the first.
"""

from __future__ import annotations

import fcntl
import os
import signal
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from .procs import (
    child_pids,
    find_binary,
    register_cleanup,
    spawn,
    tail,
    terminate,
    unregister_cleanup,
)

DEFAULT_HOSTS: dict[str, str] = {
    "a.test": "127.0.10.1",
    "b.test": "127.0.10.2",
    # Signed stand-in peers (tests/support/remote.py) behind the same front: the security tests.
    "evil.test": "127.0.10.3",
    "victim.test": "127.0.10.4",
}
HOSTS_FILE = Path("/etc/hosts")
HOSTS_MARKER = "# fediverse-ai-e2e"
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCK_FILE = Path("/tmp/fediverse-ai-e2e.lock")
LOCK_TIMEOUT_SECONDS = 1200.0
# A path no application serves: nginx answers it itself, telling which backend a host
# is routed to, so that a reload is known to have taken effect.
ROUTE_PROBE_PATH = "/__e2e_route"

# --- certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    ca_cert: Path
    cert: Path
    key: Path
    bundle: Path  # system CAs + ours: the value of SSL_CERT_FILE for the instances


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def make_certificates(directory: Path, domains: list[str]) -> TLSFiles:
    """A CA and one server certificate with a subjectAltName for every test host."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3",
        "-subj", "/CN=fediverse-ai e2e test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
        "-subj", f"/CN={domains[0]}",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid, issuer\n"
        f"subjectAltName = {', '.join(f'DNS:{d}' for d in domains)}\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "3", "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    ca_pem = (directory / "ca.crt").read_text()
    system = SYSTEM_CA_BUNDLE.read_text() if SYSTEM_CA_BUNDLE.exists() else ""
    bundle = directory / "ca-bundle.crt"
    bundle.write_text(system.rstrip("\n") + "\n" + ca_pem if system else ca_pem)
    return TLSFiles(
        directory / "ca.crt", directory / "server.crt", directory / "server.key", bundle
    )


# --- /etc/hosts --------------------------------------------------------------------------


def _rewrite_hosts(transform: Callable[[list[str]], list[str]]) -> None:
    """Edit /etc/hosts in place: it may be a bind mount, so never replace its inode."""
    with HOSTS_FILE.open("r+", encoding="utf-8") as f:
        lines = f.read().splitlines()
        new = transform(lines)
        if new != lines:
            f.seek(0)
            f.write("".join(line + "\n" for line in new))
            f.truncate()


def remove_marked_hosts(run_id: str | None = None) -> None:
    """Remove the lines of run ``run_id``, or of every run (stale ones included) when None."""
    mark = f"{HOSTS_MARKER} {run_id}" if run_id else HOSTS_MARKER
    _rewrite_hosts(
        lambda lines: [ln for ln in lines if not _has_mark(ln, mark, exact=bool(run_id))]
    )


def _has_mark(line: str, mark: str, *, exact: bool) -> bool:
    _, sep, comment = line.partition("#")
    if not sep:
        return False
    comment = "#" + comment
    return comment.strip() == mark if exact else comment.startswith(mark)


def add_hosts(hosts: Mapping[str, str], run_id: str) -> None:
    entries = [f"{ip} {domain} {HOSTS_MARKER} {run_id}" for domain, ip in hosts.items()]
    _rewrite_hosts(lambda lines: [*lines, *entries])


# --- nginx -------------------------------------------------------------------------------


def nginx_config(
    prefix: Path, tls: TLSFiles, hosts: Mapping[str, str], routes: Mapping[str, int]
) -> str:
    servers = []
    for domain, ip in hosts.items():
        port = routes.get(domain)
        if port is None:
            location = 'location / { return 503 "no backend for this host\\n"; }'
            probe = "none"
        else:
            location = f"location / {{ proxy_pass http://127.0.0.1:{port}; }}"
            probe = str(port)
        servers.append(f"""
    server {{
        listen {ip}:443 ssl;
        server_name {domain};
        ssl_certificate {tls.cert};
        ssl_certificate_key {tls.key};
        location = {ROUTE_PROBE_PATH} {{ default_type text/plain; return 200 "{probe}"; }}
        {location}
    }}""")
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
worker_shutdown_timeout 5s;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log notice;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 4m;
    proxy_http_version 1.1;
    proxy_buffering off;
    # Bodies are passed on as they arrive (as deployments that take uploads configure it), so
    # the backend's early answers meet a body still in flight (issue 13's 413-as-502).
    proxy_request_buffering off;
    proxy_read_timeout 60s;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Real-IP $remote_addr;
{"".join(servers)}
}}
"""


class TLSNetwork:
    """CA + /etc/hosts lines + one nginx, for the whole test session."""

    def __init__(self, workdir: Path, hosts: Mapping[str, str] = DEFAULT_HOSTS) -> None:
        self.workdir = workdir
        self.hosts = dict(hosts)
        self.run_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.prefix = workdir / "nginx"
        self.conf = self.prefix / "nginx.conf"
        self.routes: dict[str, int] = {}
        self.tls: TLSFiles | None = None
        self._nginx: subprocess.Popen[bytes] | None = None
        self._nginx_log: IO[bytes] | None = None
        self._lock: IO[bytes] | None = None
        self._backstop = register_cleanup(self.close)

    @property
    def files(self) -> TLSFiles:
        if self.tls is None:
            raise RuntimeError("TLSNetwork.start() has not run")
        return self.tls

    def start(self) -> TLSNetwork:
        self._acquire_lock()
        remove_marked_hosts()  # left by a run that was killed before its cleanup
        self.tls = make_certificates(self.workdir / "tls", list(self.hosts))
        add_hosts(self.hosts, self.run_id)
        for sub in ("logs", "tmp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._check_config()
        self._nginx_log = (self.prefix / "logs" / "stderr.log").open("ab")
        self._nginx = spawn(self._nginx_argv(), log=self._nginx_log)
        self._wait_for_routes()
        return self

    def set_routes(self, routes: Mapping[str, int]) -> None:
        """Point each host at a backend port on 127.0.0.1 (hosts not named answer 503)."""
        unknown = set(routes) - set(self.hosts)
        if unknown:
            raise ValueError(f"not test hosts: {sorted(unknown)}")
        self.routes = dict(routes)
        self._write_config()
        self._check_config()
        if self._nginx is None or self._nginx.poll() is not None:
            raise RuntimeError(f"nginx is not running:\n{self.log_tail()}")
        old_workers = child_pids(self._nginx.pid)
        self._nginx.send_signal(signal.SIGHUP)
        self._wait_for_routes()
        # Until the old workers have gone, a new connection may still reach the old routes.
        deadline = time.monotonic() + 15
        while old_workers & child_pids(self._nginx.pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx workers {old_workers} outlived a reload")
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.prefix / "logs" / "error.log", lines)

    def close(self) -> None:
        """Stop nginx and remove our /etc/hosts lines; safe to call more than once."""
        unregister_cleanup(self._backstop)
        try:
            if self._nginx is not None:
                terminate(self._nginx, timeout=10)
                self._nginx = None
        finally:
            if self._nginx_log is not None:
                self._nginx_log.close()
                self._nginx_log = None
            try:
                remove_marked_hosts(self.run_id)
            finally:
                if self._lock is not None:
                    self._lock.close()  # releases the flock
                    self._lock = None

    def _acquire_lock(self) -> None:
        self._lock = LOCK_FILE.open("ab")
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"another e2e run has held {LOCK_FILE} for {LOCK_TIMEOUT_SECONDS:.0f}s"
                    ) from None
                time.sleep(0.5)

    def _write_config(self) -> None:
        self.conf.write_text(nginx_config(self.prefix, self.files, self.hosts, self.routes))

    def _nginx_argv(self, *extra: str) -> list[str]:
        error_log = str(self.prefix / "logs" / "error.log")
        nginx = find_binary("nginx") or "nginx"
        return [nginx, *extra, "-p", str(self.prefix), "-e", error_log, "-c", str(self.conf),
                "-g", "daemon off;"]  # fmt: skip

    def _check_config(self) -> None:
        result = subprocess.run(
            self._nginx_argv("-t", "-q"), capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{result.stderr}\n{self.conf.read_text()}")

    def _wait_for_routes(self, timeout: float = 15.0) -> None:
        """Wait until nginx answers on every host with the current routes (a reload is async)."""
        ctx = ssl.create_default_context(cafile=str(self.files.bundle))
        pending = dict(self.hosts)
        deadline = time.monotonic() + timeout
        last_error = ""
        with httpx.Client(verify=ctx, timeout=2.0, trust_env=False) as client:
            while pending:
                if self._nginx is not None and self._nginx.poll() is not None:
                    raise RuntimeError(f"nginx exited:\n{self.log_tail()}")
                for domain in list(pending):
                    want = str(self.routes.get(domain, "none"))
                    try:
                        got = client.get(f"https://{domain}{ROUTE_PROBE_PATH}").text
                    except httpx.HTTPError as exc:
                        got, last_error = "", repr(exc)
                    if got == want:
                        del pending[domain]
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(
                        f"nginx did not serve {sorted(pending)} in {timeout}s "
                        f"(last error: {last_error}):\n{self.log_tail()}"
                    )
                if pending:
                    time.sleep(0.1)
