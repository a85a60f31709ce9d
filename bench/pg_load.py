"""A plain-HTTP replay of pre-signed requests, in a process of its own (bench/pg_scale.py).

    python -m bench.pg_load PORT DIR CONNECTIONS

DIR holds the ``requests-*.bin`` files of :func:`bench.load.presign` (raw HTTP/1.1 requests
separated by NUL, signed for ``https://a.test/inbox``). Each is sent once, over keep-alive
connections to 127.0.0.1:PORT, with no TLS front: wrk and the nginx front of bench/intake.py
are not installed on every machine, and here the point is the database and the worker
processes, not TLS. Raw asyncio streams on uvloop rather than an HTTP client library: the
generator shares the machine's cores with what it measures, so it must cost little (its CPU
time is printed with the result). Prints one JSON object: accepted (2xx), errors, seconds
from the first request to the last answer, latency percentiles.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import uvloop


def _requests(directory: Path) -> list[bytes]:
    out: list[bytes] = []
    for path in sorted(directory.glob("requests-*.bin")):
        out.extend(r for r in path.read_bytes().split(b"\0") if r)
    return out


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response, read to its end; and whether the server keeps the
    connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, keep = 0, False, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            keep = False
    if chunked:
        await reader.readuntil(b"0\r\n\r\n")
    elif length:
        await reader.readexactly(length)
    return status, keep


async def replay(port: int, requests: list[bytes], connections: int) -> dict[str, float]:
    todo: Iterator[bytes] = iter(requests)  # shared by the loops: one event loop, no lock
    accepted = errors = 0
    latencies: list[float] = []

    async def loop() -> None:
        nonlocal accepted, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in todo:
                sent = time.perf_counter()
                writer.write(request)
                try:
                    status, keep = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    errors += 1
                    keep = False
                else:
                    latencies.append(time.perf_counter() - sent)
                    if 200 <= status < 300:
                        accepted += 1
                    else:
                        errors += 1
                if not keep:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(connections)))
    seconds = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[int((len(latencies) - 1) * p)] * 1000 if latencies else float("nan")

    return {
        "sent": len(requests),
        "accepted": accepted,
        "errors": errors,
        "seconds": seconds,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def main() -> int:
    port, directory, connections = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    requests = _requests(directory)
    result = uvloop.run(replay(port, requests, connections))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
