"""Reading HTTP response bodies within bounds, and saying what went wrong safely.

Shared by the fetcher and the AI backends: a body cap enforced while streaming (gzip and
deflate inflated in bounded steps), the head of an error body for debugging, and reasons fit
to store or show (printable, one line, never the peer's or the OS's own error text).
"""

from __future__ import annotations

import zlib
from typing import Any

import httpx

from fediverse_ai.errors import FetchError, PayloadTooLarge

__all__ = [
    "ERROR_SNIPPET_BYTES",
    "network_reason",
    "one_short_line",
    "read_capped",
    "read_error_head",
]

ERROR_SNIPPET_BYTES = 2048
_ERROR_SNIPPET_CHARS = 200


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """Read the body, refusing as soon as it is known to exceed ``cap`` bytes.

    The declared Content-Length is checked first so that honest large responses are
    refused without reading; the running count catches chunked and lying responses.
    The cap applies to the decoded bytes, and we decompress ourselves with a bounded
    output size: httpx would inflate a whole network chunk at once, so a small gzip bomb
    could use a thousand times the chunk size in memory before any count saw it.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(f"response body exceeds {cap} bytes")
    decoder = decoder_for(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        data = raw
        while data:
            if decoder is None:
                out, data = data, b""
            else:
                # At most one byte more than the room left: enough to know the cap is passed.
                out = decoder.decompress(data, cap - size + 1)
                data = decoder.unconsumed_tail
            size += len(out)
            if size > cap:
                raise PayloadTooLarge(f"response body exceeds {cap} bytes")
            chunks.append(out)
            if decoder is not None and decoder.eof:
                break
    return b"".join(chunks)


def decoder_for(content_encoding: str) -> Any:
    """A bounded zlib decoder for gzip/deflate bodies, None for identity ones."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    # We only ever ask for gzip and deflate (httpx's Accept-Encoding here).
    raise FetchError(f"unsupported content encoding {encoding[:40]!r}")


async def read_error_head(response: httpx.Response) -> str:
    """The first couple of KB of an error body, decoded leniently.

    The peer's explanation is useful when debugging; the rest is not worth the
    bandwidth, and it may be a large HTML error page.
    """
    data = b""
    try:
        decoder = decoder_for(response.headers.get("content-encoding", ""))
        async for raw in response.aiter_raw():
            room = ERROR_SNIPPET_BYTES - len(data)
            data += raw[:room] if decoder is None else decoder.decompress(raw, room)
            if len(data) >= ERROR_SNIPPET_BYTES:
                break
    except (httpx.HTTPError, FetchError, zlib.error):
        pass
    return data[:ERROR_SNIPPET_BYTES].decode("utf-8", errors="replace")


def one_short_line(text: str) -> str:
    """Printable characters only, whitespace collapsed, cut to a length fit for ``last_error``."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(text) > _ERROR_SNIPPET_CHARS:
        text = text[: _ERROR_SNIPPET_CHARS - 1] + "…"
    return text


def network_reason(exc: httpx.HTTPError) -> str:
    """A short, safe name for a transport failure (never the peer's or OS's own text)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol error"
    return "network error"
