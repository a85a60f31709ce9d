"""Seeded encodings of a document into request bodies: valid JSON, and bytes that only look like it.

Kept apart from :mod:`fuzz.mutate` because these work on bytes, after the document is final.
"""

from __future__ import annotations

import json
import random
from typing import Any

MAX_INBOX_BYTES = 1_048_576


def dumps(doc: Any) -> bytes:
    """JSON as peers send it; NaN/Infinity become the literals Python's parser accepts, and a
    lone surrogate stays an escape (valid JSON, invalid Unicode)."""
    return json.dumps(doc, allow_nan=True).encode("ascii")


def encode_body(doc: Any, rng: random.Random) -> tuple[bytes, str]:
    """The body for ``doc``: most often plain JSON, else one of the hostile byte encodings."""
    if rng.random() < 0.7:
        return dumps(doc), "json"
    kind = rng.randrange(12)
    if kind == 0:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass"), "raw utf-8"
    if kind == 1:
        return _duplicate_keys(doc, rng), "duplicate keys"
    if kind == 2:
        text = json.dumps(doc, ensure_ascii=False)
        return text.encode("utf-16", "surrogatepass"), "utf-16 with BOM"
    if kind == 3:
        return b"\xef\xbb\xbf" + dumps(doc), "utf-8 BOM"
    if kind == 4:
        raw = dumps(doc)
        at = rng.randrange(len(raw) + 1)
        return raw[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]) + raw[at:], (
            "invalid utf-8 byte"
        )
    if kind == 5:
        raw = dumps(doc)
        return raw[: rng.randrange(len(raw))], "truncated"
    if kind == 6:
        return rng.choice(
            [
                b"",
                b"null",
                b"[]",
                b'"a string"',
                b"12",
                b"<xml/>",
                b"a=1&b=2",
                b"{'single': 'quotes'}",
                b"{,}",
                b"\x00" * 64,
                bytes(rng.randrange(256) for _ in range(300)),
                b"[" * 100_000,
                b'{"a":' * 5000,
            ]
        ), "not a JSON object"
    if kind == 7:
        return _padded(doc, rng.choice([-200, -1, 0, 1, 5000]), rng), "size around the cap"
    if kind == 8:
        return b" \n\t" * rng.randrange(1, 2000) + dumps(doc) + b"\n" * 3, "whitespace"
    if kind == 9:
        return dumps(doc) + rng.choice([b"{}", b"garbage", b"\x00", b"]"]), "trailing data"
    if kind == 10:
        return json.dumps(doc, indent=rng.choice([0, 1, 40])).encode(), "indented"
    return json.dumps(doc, separators=(",", ":"), allow_nan=True).encode(), "compact"


def _duplicate_keys(doc: Any, rng: random.Random) -> bytes:
    """The object with some keys written twice: parsers disagree on which one wins."""
    if not isinstance(doc, dict) or not doc:
        return dumps(doc)
    parts = [f"{json.dumps(k)}: {json.dumps(v, allow_nan=True)}" for k, v in doc.items()]
    key = rng.choice(list(doc))
    twin = rng.choice(['"x"', "null", "123", '{"id": "http://127.0.0.1:1/x"}', "[]"])
    parts.insert(rng.randrange(len(parts) + 1), f"{json.dumps(key)}: {twin}")
    return ("{" + ", ".join(parts) + "}").encode("ascii")


def _padded(doc: Any, delta: int, rng: random.Random) -> bytes:
    """``doc`` grown to ``MAX_INBOX_BYTES + delta`` bytes with a filler key."""
    if not isinstance(doc, dict):
        doc = {"value": doc}
    base = dumps({**doc, "filler": ""})
    need = max(0, MAX_INBOX_BYTES + delta - len(base))
    char = rng.choice(["a", "\\u00e9"])
    filler = char * (need // len(char))
    body = base.replace(b'"filler": ""', b'"filler": "' + filler.encode() + b'"', 1)
    return body + b" " * max(0, MAX_INBOX_BYTES + delta - len(body))
