"""Running a fuzz campaign against a live server and judging it.

The verdict is the issue's: no 5xx answer, no traceback in the server's log, every job done
or failed with one of our own error messages (never a Python exception's name), the database
intact (SQLite or PostgreSQL), and the server still answering afterwards. Figures go to stdout
and to ``test-artifacts/fuzz-results.json``, since ``make test`` does not show stdout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from support import store_view
from support.live import LiveServer

from .requests import FuzzRequest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The PostgreSQL pass of `make test` runs beside the SQLite one: a file each.
_STORE = os.environ.get("FEDIVERSE_AI_TEST_STORE", "sqlite")
RESULTS_FILE = ARTIFACTS / (
    "fuzz-results.json" if _STORE != "postgresql" else "fuzz-results-postgresql.json"
)
#: A job's last_error that names a Python exception: something crashed instead of refusing.
UNEXPECTED_ERROR = re.compile(r"^[A-Za-z_.]*(Error|Exception|Interrupt|Exit|Iteration)\b[:(]?")
MAX_REPORTED = 5


def settings(default_count: int) -> tuple[int, int, int | None]:
    """(seed, count, only) from ``FUZZ_SEED``, ``FUZZ_COUNT`` and ``FUZZ_ONLY``."""
    seed = int(os.environ.get("FUZZ_SEED", "20261203"))
    count = int(os.environ.get("FUZZ_COUNT", str(default_count)))
    only = os.environ.get("FUZZ_ONLY")
    return seed, count, int(only) if only else None


class LogWatch(logging.Handler):
    """Collects the log records that mean something crashed: errors and tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.crashes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info or record.levelno >= logging.ERROR or "Traceback" in message:
            self.crashes.append(f"{record.name}: {message}\n{self.format(record)}"[:4000])


@contextmanager
def watching_logs() -> Iterator[LogWatch]:
    """A ``LogWatch`` on the root logger for the duration of the block."""
    watch = LogWatch()
    watch.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(watch)
    try:
        yield watch
    finally:
        root.removeHandler(watch)


@contextmanager
def loopback_only() -> Iterator[list[str]]:
    """Refuse name resolution of anything but loopback literals in this process (the server
    runs in it): a safety net under the generator's own discipline, so that no mutated URL
    can make the server resolve a name or reach a host off this machine."""
    real = socket.getaddrinfo
    refused: list[str] = []

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if _is_loopback(host):
            return real(host, *args, **kwargs)
        refused.append(str(host))
        raise socket.gaierror(socket.EAI_NONAME, "fuzz: loopback only")

    socket.getaddrinfo = guarded
    try:
        yield refused
    finally:
        socket.getaddrinfo = real


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").lower()
    if host.startswith("::ffff:"):
        host = host.removeprefix("::ffff:")
    if host == "::1":
        return True
    try:
        packed = socket.inet_aton(host)  # also 127.1, 0x7f.0.0.1 and 2130706433
    except OSError:
        return host.startswith("::ffff:7f")
    return packed[0] == 127


@dataclass
class Campaign:
    """What one run sent and got back."""

    name: str
    seed: int
    rerun: str
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    routes: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    figures: dict[str, Any] = field(default_factory=dict)

    def record(self, request: FuzzRequest, status: int | str, reason: str = "") -> None:
        self.statuses[str(status)] += 1
        self.reasons[f"{status} {reason}"[:90]] += 1
        if request.route:
            self.routes.setdefault(request.route, Counter())[str(status)] += 1
        if isinstance(status, int) and status >= 500:
            self.failures.append(f"HTTP {status} for\n{request.describe(self.seed, self.rerun)}")

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


async def run_requests(
    campaign: Campaign,
    indices: range | list[int],
    build: Callable[[int], FuzzRequest],
    send: Callable[[FuzzRequest], Awaitable[tuple[int | str, str]]],
    *,
    concurrency: int = 8,
) -> None:
    """Build and send every request, ``concurrency`` at a time, recording each status."""
    pending = iter(indices)

    async def lane() -> None:
        for index in pending:
            request = build(index)
            reason = ""
            try:
                try:
                    status, reason = await send(request)
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    # A kept-alive connection the server had closed, under load: once more on
                    # a new one; a server that really stopped answering fails again.
                    campaign.figures["resent_after_closed_connection"] = (
                        campaign.figures.get("resent_after_closed_connection", 0) + 1
                    )
                    status, reason = await send(request)
            except httpx.LocalProtocolError:
                status = "client refused"  # h11 would not put these headers on the wire
            except httpx.TransportError as exc:
                status = f"connection: {type(exc).__name__}"
                campaign.failures.append(
                    f"{exc!r} for\n{request.describe(campaign.seed, campaign.rerun)}"
                )
            campaign.record(request, status, reason)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


def header_bytes(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Headers as bytes (UTF-8), so the client sends what the fuzzer made rather than refusing
    non-ASCII values itself."""
    return [(k.encode("utf-8"), v.encode("utf-8", "surrogatepass")) for k, v in headers]


def reason_of(response: httpx.Response) -> str:
    """The error an answer gives (``{"error": ...}``), for the figures' list of reasons."""
    if response.status_code < 400:
        return ""
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return response.headers.get("content-type", "")


async def send_raw(request: FuzzRequest, timeout: float = 15.0) -> tuple[int | str, str]:
    """Send over a bare socket what httpx would not (length mismatches, hand-made chunking);
    the write side is closed after the body, so a server waiting for more sees the end."""
    parts = urlsplit(request.url)
    head = [f"{request.method} {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    body = request.body
    names = {k.lower() for k, _ in request.headers}
    for name, value in request.headers:
        if name.lower() != "host":
            head.append(f"{name}: {value}")
    if "transfer-encoding" in names:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    elif "content-length" not in names:
        head.append(f"Content-Length: {len(body)}")
    head.append("Connection: close")
    data = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(data)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(timeout):
            line = await reader.readline()
    except (ConnectionError, TimeoutError) as exc:
        return "no answer", type(exc).__name__
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()
    fields = line.split()
    if len(fields) >= 2 and fields[1].isdigit():
        return int(fields[1]), "(bare socket)"
    # The server closed without answering: what HTTP/1.1 does with a body cut short.
    return "no answer", "closed"


async def database_problems(live: LiveServer) -> list[str]:
    """What the database's integrity check reports (SQLite's ``integrity_check`` and
    ``foreign_key_check``, or amcheck on PostgreSQL: tests/support/store_view.py); empty when
    clean."""
    db = live.state.db
    target = live.state.config.storage.database if db.dialect == "postgresql" else db.path
    return await asyncio.to_thread(store_view.integrity_problems, target)


async def job_figures(
    live: LiveServer, describe: Callable[[str], str] = lambda payload: payload
) -> tuple[dict[str, int], list[str]]:
    """Jobs by kind and state, and the ones whose last error names a Python exception, each
    with what ``describe`` makes of its payload (the request that queued it)."""
    rows = await live.state.db.fetchall("SELECT kind, state, last_error, payload FROM jobs")
    counts: Counter[str] = Counter()
    unexpected = []
    for row in rows:
        counts[f"{row['kind']} {row['state']}"] += 1
        error = row["last_error"] or ""
        if UNEXPECTED_ERROR.match(error):
            unexpected.append(
                f"{row['kind']} job ({row['state']}): {error[:300]}\n{describe(row['payload'])}"
            )
    return dict(sorted(counts.items())), unexpected


def write_results(campaign: Campaign) -> None:
    """Print the figures and merge them into the results file under the campaign's name."""
    figures = {
        "seed": campaign.seed,
        "requests": campaign.sent,
        "by_status": dict(sorted(campaign.statuses.items())),
        "5xx": sum(n for s, n in campaign.statuses.items() if s.isdigit() and int(s) >= 500),
        "wall_s": round(time.monotonic() - campaign.started, 1),
        **campaign.figures,
        "top_reasons": dict(campaign.reasons.most_common(15)),
        **(
            {"by_route": {k: dict(sorted(v.items())) for k, v in sorted(campaign.routes.items())}}
            if campaign.routes
            else {}
        ),
    }
    print(f"\nfuzz {campaign.name}: {json.dumps(figures, indent=1)}")
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        everything = json.loads(RESULTS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        everything = {}
    everything[campaign.name] = figures
    RESULTS_FILE.write_text(json.dumps(everything, indent=1) + "\n", encoding="utf-8")


def verdict(campaign: Campaign, problems: list[str]) -> str | None:
    """The failure message (seed and offending requests first), or None when all is well."""
    found = campaign.failures + problems
    if not found:
        return None
    shown = "\n\n".join(item[:5000] for item in found[:MAX_REPORTED])
    more = len(found) - MAX_REPORTED
    return (
        f"fuzz {campaign.name} (seed {campaign.seed}) found {len(found)} problem(s):\n\n{shown}"
        + (f"\n\n... and {more} more" if more > 0 else "")
        + f"\n\nre-run: FUZZ_SEED={campaign.seed} {campaign.rerun}"
    )
