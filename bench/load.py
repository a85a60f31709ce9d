"""The load: remote actors' keys, pre-signed Create(Note) requests, and wrk replaying them.

Requests are signed before the clock starts (draft-cavage ``rsa-sha256``, as Mastodon
signs), on every core, so that the load generator does no RSA while measuring: wrk only
replays bytes over TLS. Its CPU time is reported beside each result.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fediverse_ai.httpsig import sign_request

from .common import ROOT

_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
LUA = ROOT / "bench" / "replay.lua"


@dataclass(frozen=True)
class RemoteKeys:
    host: str
    private: dict[str, str]  # name -> private PEM
    public: dict[str, str]
    scheme: str = "https"  # "http": actors served on plain loopback (bench/pg_scale.py)

    def actor_uri(self, name: str) -> str:
        return f"{self.scheme}://{self.host}/users/{name}"

    def write_public(self, path: Path) -> Path:
        path.write_text(json.dumps(self.public))
        return path


def make_keys(host: str, count: int, *, scheme: str = "https") -> RemoteKeys:
    private, public = {}, {}
    for i in range(count):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = f"u{i}"
        private[name] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public[name] = key.public_key().public_bytes(serialization.Encoding.PEM, _SPKI).decode()
    return RemoteKeys(host, private, public, scheme)


def create_note(
    actor: str, index: int, *, run: str, mention: str | None = None, text: str | None = None
) -> dict[str, Any]:
    note_id = f"{actor}/statuses/{run}-{index}"
    published = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    to = ["https://www.w3.org/ns/activitystreams#Public"]
    tags: list[dict[str, str]] = []
    content = f"<p>Benchmark note {index} of run {run}: nothing to see here.</p>"
    if mention:
        tags.append({"type": "Mention", "href": mention, "name": "@ai@a.test"})
        to.append(mention)
        content = f'<p><span class="h-card"><a href="{mention}">@ai</a></span> {text}</p>'
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": actor,
        "published": published,
        "to": to,
        "cc": [f"{actor}/followers"],
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": actor,
            "content": content,
            "published": published,
            "to": to,
            "cc": [f"{actor}/followers"],
            "tag": tags,
        },
    }


def signed_headers(
    url: str, body: bytes, *, key_id: str, private_pem: str, now: datetime | None = None
) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json"}
    added = sign_request(
        "POST",
        url,
        headers,
        body,
        key_id=key_id,
        private_key_pem=private_pem,
        now=now or datetime.now(UTC),
    )
    return {**headers, **added}


def _raw_requests(args: tuple[RemoteKeys, str, str, range]) -> bytes:
    keys, inbox_url, run, indexes = args
    host = inbox_url.split("/")[2]
    path = "/" + inbox_url.split("/", 3)[3]
    names = sorted(keys.private)
    signed: dict[int, bytes] = {}
    # Signed grouped by actor, written in index order: parsing an RSA key costs about 28 ms
    # and the signer's key cache holds 16, so round-robin over 50 actors re-parsed each time.
    for i in sorted(indexes, key=lambda i: (i % len(names), i)):
        name = names[i % len(names)]
        actor = keys.actor_uri(name)
        body = json.dumps(create_note(actor, i, run=run), separators=(",", ":")).encode()
        headers = signed_headers(
            inbox_url, body, key_id=f"{actor}#main-key", private_pem=keys.private[name]
        )
        headers["Host"] = host
        headers["Content-Length"] = str(len(body))
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        signed[i] = head.encode() + b"\r\n" + body + b"\0"
    return b"".join(signed[i] for i in indexes)


def presign(
    keys: RemoteKeys, inbox_url: str, count: int, threads: int, directory: Path, *, run: str
) -> float:
    """Write ``count`` signed requests split over ``threads`` files; returns seconds spent."""
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    slices = [range(t, count, threads) for t in range(threads)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        chunks = [[r[k : k + 5000] for k in range(0, len(r), 5000)] for r in slices]
        for t, parts in enumerate(chunks):
            data = b"".join(pool.map(_raw_requests, [(keys, inbox_url, run, p) for p in parts]))
            (directory / f"requests-{t}.bin").write_bytes(data)
    return time.perf_counter() - started


@dataclass
class WrkResult:
    accepted: int
    errors: int
    skipped: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_s: float
    raw: dict[str, Any]

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str, directory: Path, *, threads: int, connections: int, limit_s: int = 600
) -> WrkResult:
    """Replay the files in ``directory`` against ``url``; wrk's CPU time from its rusage."""
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{limit_s}s"]
    argv += ["--timeout", "30s", "-s", str(LUA), url, "--", str(directory)]
    for marker in directory.glob("done-*"):
        marker.unlink()
    with ChildCPU() as cpu:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        while proc.poll() is None and len(list(directory.glob("done-*"))) < threads:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    text = out.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result:\n{text}")
    raw = json.loads(line[6:])
    raw["output"] = text[-2000:]
    return WrkResult(
        accepted=raw["accepted"],
        errors=raw["errors"],
        skipped=raw["skipped"],
        seconds=raw["seconds"],
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        cpu_s=cpu.seconds,
        raw=raw,
    )


class ChildCPU:
    """CPU seconds of reaped children between two points (wrk's own CPU time)."""

    def __enter__(self) -> ChildCPU:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.start = r.ru_utime + r.ru_stime
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.seconds = r.ru_utime + r.ru_stime - self.start
