"""Seeded mutation of JSON documents into hostile ones: the values and shapes a peer may send.

Everything here is a pure function of a ``random.Random``, so a request is rebuilt exactly
from its seed. Hosts in generated URLs are loopback literals only (127.0.0.0/8, also written
as IPv6-mapped literals): the server fetches what a peer names, and a fuzzer must not make
it talk to anything off this machine, nor resolve a name through DNS.
"""

from __future__ import annotations

import json
import random
from typing import Any

Json = Any

#: Strings that broke, or could break, text handling somewhere: the Unicode edge cases.
HOSTILE_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # lone high surrogate: valid JSON, not valid Unicode
    "\udfff tail",
    "\u202eevil\u202c",  # RTL override
    "\u200b\u200c\u200d\ufeff",  # zero-width characters and a BOM
    "e\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301",  # stacked combining marks
    "\U0001f600\U0001f9d1\u200d\U0001f4bb",  # emoji and a ZWJ sequence
    "\ufffe\uffff",  # non-characters
    "<script>alert(1)</script>",
    '<p onclick="x()">hi</p><img src=x onerror=y>',
    "#nobot #noai",
    "@ai @ai@127.0.0.1",
    "%s%n%x{0}{}${jndi:ldap://127.0.0.1:1/a}",
    "'; DROP TABLE notes; --",
    "../../../../etc/passwd",
    "C:\\Windows\\",
    "\r\nSet-Cookie: x=y",
    "1e999",
    "-0",
    "true",
    "null",
    "\u0130\u0131\u00df\ufb03",  # case-mapping oddities
    "\U000e0041\U000e0042",  # tag characters
    "\u00b2",  # str.isdigit() says yes, int() says no
    "\u2460\u0663",  # a circled one and an Arabic-Indic three
)


#: Values of the wrong JSON type for any key (NaN and Infinity are written as JSON literals).
def hostile_value(rng: random.Random) -> Json:
    """One hostile value: wrong type, extreme number, odd container or odd string."""
    kind = rng.randrange(16)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([0, -1, 1, 2**31, -(2**63), 2**64 + 1, 10**400, -(10**40)])
    if kind == 2:
        return rng.choice([0.5, -1e308, 1e-320, float("nan"), float("inf"), float("-inf")])
    if kind == 3:
        return rng.choice([True, False])
    if kind == 4:
        return []
    if kind == 5:
        return {}
    if kind == 6:
        return [hostile_value(rng) for _ in range(rng.randrange(1, 4))]
    if kind == 7:
        return {"id": hostile_url(rng), "type": rng.choice(["Note", "Person", "", "Link", 7])}
    if kind == 8:
        return "x" * rng.choice([1000, 1000, 65_536, 200_000])
    if kind == 9:
        return hostile_url(rng)
    if kind == 10:
        return nested(rng.randrange(5, 70), rng)
    return rng.choice(HOSTILE_TEXT) + rng.choice(["", "tail", hostile_url(rng)])


def nested(depth: int, rng: random.Random) -> Json:
    """A list/object tower ``depth`` levels deep (the server caps nesting at 64)."""
    value: Json = "bottom"
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


_LOOPBACK_HOSTS = (
    "127.0.0.1:1",  # nothing listens there: connection refused
    "127.0.0.2:9",
    "[::ffff:127.0.0.1]:1",
    "[::ffff:7f00:3]:9",
    "127.1:1",
    "0x7f.0.0.1:1",
    "2130706433:1",
)


def hostile_url(rng: random.Random, base: str | None = None) -> str:
    """An id that is not quite a URL, another scheme, an odd host literal, or very long."""
    host = rng.choice(_LOOPBACK_HOSTS)
    kind = rng.randrange(12)
    if kind == 0:
        return "not a url"
    if kind == 1:
        return rng.choice(["javascript:alert(1)", "data:text/plain,hi", "file:///etc/passwd"])
    if kind == 2:
        return rng.choice(["ftp://127.0.0.1/x", "gopher://127.0.0.1:70/", "urn:uuid:1234"])
    if kind == 3:
        return f"http://{host}/" + "a" * rng.choice([300, 5000, 70_000])
    if kind == 4:
        return f"http://user:pass@{host}/x"
    if kind == 5:
        return f"http://{host}/%00%ff%zz/\u00e9?x=\ud800#frag"
    if kind == 6:
        return rng.choice(["http://", "http:///x", "https://:80/", "//127.0.0.1/x", "http://[::1"])
    if kind == 7 and base:
        return f"{base}/{rng.choice(['users/nobody', 'inbox', 'statuses/none', ''])}"
    if kind == 8 and base:
        return f"{base}/users/alice#main-key?x"
    if kind == 9:
        return f"https://{host}/users/x"
    return f"http://{host}/{rng.randrange(10**6)}"


def paths(doc: Json, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into ``doc`` (list indices included), the root excluded."""
    found: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.append((*prefix, key))
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc[:8]):
            found.append((*prefix, index))
            found.extend(paths(value, (*prefix, index)))
    return found


_HEAD = {("id",), ("type",), ("actor",)}


def _parent(doc: Json, path: tuple[Any, ...]) -> Json:
    for step in path[:-1]:
        doc = doc[step]
    return doc


def mutate_doc(doc: Json, rng: random.Random, *, base: str | None = None) -> tuple[Json, str]:
    """``doc`` (a fresh copy) changed in one way; returns it and what was done."""
    doc = json.loads(json.dumps(doc))
    where = paths(doc)
    # Huge arrays cost the most to send and process: one request in thirty or so is enough.
    op = rng.choices(range(9), weights=[3, 3, 3, 3, 3, 1, 0.5, 3, 1])[0]
    if not where:
        return hostile_value(rng), "replaced the whole document"
    # An activity without its id, type or actor is refused before its signature is even
    # checked: mostly mutate deeper, so the rest of the pipeline sees the hostile values.
    inner = [p for p in where if p not in _HEAD]
    path = rng.choice(inner if inner and rng.random() < 0.85 else where)
    parent, key = _parent(doc, path), path[-1]
    if op <= 2:
        parent[key] = hostile_value(rng)
        return doc, f"value at {path!r} replaced"
    if op == 3:
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
        return doc, f"removed {path!r}"
    if op == 4:
        target = parent if isinstance(parent, dict) else doc
        name = rng.choice(["extra", "@context", "id", "type", "actor", "object", "\x00", "\ud800"])
        target[name] = hostile_value(rng)
        return doc, f"key {name!r} added or overwritten"
    if op == 5:
        parent[key] = nested(rng.choice([10, 63, 64, 65, 200]), rng)
        return doc, f"deep nesting at {path!r}"
    if op == 6:
        field = rng.choice(["to", "cc", "tag", "attachment", "bto", "audience"])
        item: Json = rng.choice([hostile_url(rng, base), {"type": "Mention", "href": "x"}, 1])
        obj = doc.get("object")
        target = obj if isinstance(obj, dict) and rng.random() < 0.5 else doc
        target[field] = [item] * rng.choice([100, 1000, 10_000])
        return doc, f"huge {field} array"
    if op == 7:
        if isinstance(parent[key], str):
            parent[key] = _spliced(parent[key], rng)
            return doc, f"unicode edge case spliced into {path!r}"
        parent[key] = rng.choice(HOSTILE_TEXT)
        return doc, f"string at {path!r}"
    doc["@context"] = rng.choice(
        [
            None,
            "http://127.0.0.1:1/context",
            ["https://www.w3.org/ns/activitystreams", {"@vocab": "http://127.0.0.1:1/#"}],
            [{"as": "https://www.w3.org/ns/activitystreams", "Note": "as:Article"}],
            {"@language": "\ud800"},
            [[[]]],
        ]
    )
    return doc, "odd @context"


def _spliced(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(HOSTILE_TEXT) + text[at:]
