"""A small parser and serializer for RFC 8941 Structured Field Values.

RFC 9421 carries its signatures in two Structured Field dictionaries
(``Signature-Input`` and ``Signature``), and RFC 9530 ``Content-Digest`` is one
too. We only need dictionaries, inner lists, parameters and bare items, so this
module implements exactly those, following the parsing algorithms of RFC 8941
section 4.2 (strict: anything that does not parse raises
:class:`StructuredFieldError`). Serialization matters as much as parsing: the
``@signature-params`` line of an RFC 9421 signature base is the *canonical
serialization* of the parsed inner list, so ``serialize_inner_list`` must emit
exactly what RFC 8941 section 4.1 prescribes.

Tokens are kept apart from strings (:class:`Token` is a ``str`` subclass)
because they serialize differently; decimals use :class:`decimal.Decimal` so
that they round-trip exactly.
"""

from __future__ import annotations

import base64
import binascii
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

__all__ = [
    "BareItem",
    "InnerList",
    "Item",
    "Member",
    "Params",
    "StructuredFieldError",
    "Token",
    "parse_dictionary",
    "serialize_bare_item",
    "serialize_dictionary",
    "serialize_inner_list",
    "serialize_item",
    "serialize_params",
]


class StructuredFieldError(ValueError):
    """The field value is not a valid Structured Field of the expected type."""


class Token(str):
    """An sf-token (``application/json``, ``*foo``); serialized without quotes."""

    __slots__ = ()


BareItem = int | Decimal | str | bytes | bool
Params = dict[str, BareItem]


class Item(NamedTuple):
    """A bare item with its parameters (pass ``{}`` when there are none)."""

    value: BareItem
    params: Params


class InnerList(NamedTuple):
    """A parenthesised list of items, with parameters on the list itself."""

    items: tuple[Item, ...]
    params: Params


Member = Item | InnerList

# One regular expression per grammar production keeps the per-character work in C:
# a Signature header is parsed on every inbound request.
_BARE = (
    r"(?:(?P<number>-?[0-9]+(?:\.[0-9]*)?)"
    r'|"(?P<string>(?:[\x20\x21\x23-\x5b\x5d-\x7e]++|\\["\\])*+)"'
    r"|(?P<token>[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*+)"
    r"|:(?P<bytes>[A-Za-z0-9+/=]*+):"
    r"|\?(?P<boolean>[01]))"
)
_KEY_PATTERN = r"[a-z*][a-z0-9_\-.*]*+"
_KEY = re.compile(_KEY_PATTERN)
_BARE_ITEM = re.compile(_BARE)
_PARAM = re.compile(rf";[ ]*(?P<key>{_KEY_PATTERN})(?:={_BARE})?")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_UNESCAPE = re.compile(r"\\(.)")
_MAX_INT = 999_999_999_999_999


def _fail(what: str, pos: int) -> StructuredFieldError:
    return StructuredFieldError(f"{what} at offset {pos}")


def _value(match: re.Match[str]) -> BareItem:
    """Convert the bare item that ``_BARE`` matched (RFC 8941 section 4.2.3)."""
    kind = match.lastgroup
    text = match.group(kind) if kind else ""
    if kind == "number":
        whole, dot, fraction = text.lstrip("-").partition(".")
        if not dot:
            if len(whole) > 15:
                raise _fail("integer too long", match.start())
            return int(text)
        if len(whole) > 12 or not 1 <= len(fraction) <= 3:
            raise _fail("invalid decimal", match.start())
        return Decimal(text)
    if kind == "string":
        return _UNESCAPE.sub(r"\1", text) if "\\" in text else text
    if kind == "token":
        return Token(text)
    if kind == "bytes":
        data = text.rstrip("=")
        try:
            # RFC 8941 asks parsers to tolerate missing padding.
            return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
        except binascii.Error as exc:
            raise _fail("invalid base64 in byte sequence", match.start()) from exc
    return text == "1"


def _params(text: str, pos: int) -> tuple[Params, int]:
    params: Params = {}
    while text.startswith(";", pos):
        match = _PARAM.match(text, pos)
        if match is None:
            raise _fail("invalid parameter", pos)
        params[match.group("key")] = True if match.lastgroup == "key" else _value(match)
        pos = match.end()
    return params, pos


def _item(text: str, pos: int) -> tuple[Item, int]:
    match = _BARE_ITEM.match(text, pos)
    if match is None:
        raise _fail("expected an item", pos)
    value = _value(match)
    params, pos = _params(text, match.end())
    return Item(value, params), pos


def _item_or_inner_list(text: str, pos: int) -> tuple[Member, int]:
    if not text.startswith("(", pos):
        return _item(text, pos)
    pos += 1
    items: list[Item] = []
    while True:
        while text.startswith(" ", pos):
            pos += 1
        if text.startswith(")", pos):
            params, pos = _params(text, pos + 1)
            return InnerList(tuple(items), params), pos
        item, pos = _item(text, pos)
        items.append(item)
        if not (text.startswith(" ", pos) or text.startswith(")", pos)):
            raise _fail("unterminated inner list", pos)


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse an sf-dictionary (RFC 8941 section 4.2.2); a duplicate key overwrites in place."""
    end = len(text)
    pos = end - len(text.lstrip(" "))
    result: dict[str, Member] = {}
    while pos < end:
        match = _KEY.match(text, pos)
        if match is None:
            raise _fail("expected a key", pos)
        name, pos = match.group(), match.end()
        member: Member
        if text.startswith("=", pos):
            member, pos = _item_or_inner_list(text, pos + 1)
        else:
            params, pos = _params(text, pos)
            member = Item(True, params)
        result[name] = member
        while pos < end and text[pos] in " \t":
            pos += 1
        if pos == end:
            break
        if text[pos] != ",":
            raise _fail("expected ','", pos)
        pos += 1
        while pos < end and text[pos] in " \t":
            pos += 1
        if pos == end:
            raise _fail("trailing comma", pos)
    return result


def serialize_bare_item(value: BareItem) -> str:
    """Serialize one bare item (RFC 8941 section 4.1.3)."""
    kind = type(value)
    if type(value) is str:  # the common case first: component names, keyid
        if not value.isascii() or not value.isprintable():
            raise StructuredFieldError("strings must be printable ASCII")
        if '"' in value or "\\" in value:
            value = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{value}"'
    if kind is bool:
        return "?1" if value else "?0"
    if type(value) is int:
        if abs(value) > _MAX_INT:
            raise StructuredFieldError("integer out of range")
        return str(value)
    if isinstance(value, Token):
        if _TOKEN.fullmatch(value) is None:
            raise StructuredFieldError("invalid token")
        return str(value)
    if isinstance(value, Decimal):
        text = format(value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN), "f")
        whole, _, fraction = text.partition(".")
        if len(whole.lstrip("-")) > 12:
            raise StructuredFieldError("decimal out of range")
        return f"{whole}.{fraction.rstrip('0') or '0'}"
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    raise StructuredFieldError(f"cannot serialize {kind.__name__}")


def serialize_params(params: Params) -> str:
    """Serialize parameters (``;name=value``, or ``;name`` for true)."""
    if not params:
        return ""
    return "".join(
        f";{name}" if value is True else f";{name}={serialize_bare_item(value)}"
        for name, value in params.items()
    )


def serialize_item(item: Item) -> str:
    """Serialize an item with its parameters (RFC 8941 section 4.1.3)."""
    text = serialize_bare_item(item.value)
    return text + serialize_params(item.params) if item.params else text


def serialize_inner_list(inner: InnerList) -> str:
    """Serialize an inner list; this is the RFC 9421 ``@signature-params`` value."""
    body = " ".join(serialize_item(item) for item in inner.items)
    return f"({body}){serialize_params(inner.params)}"


def serialize_dictionary(members: dict[str, Member]) -> str:
    """Serialize an sf-dictionary (RFC 8941 section 4.1.2)."""
    parts: list[str] = []
    for name, member in members.items():
        if _KEY.fullmatch(name) is None:
            raise StructuredFieldError("invalid dictionary key")
        if isinstance(member, InnerList):
            parts.append(f"{name}={serialize_inner_list(member)}")
        elif member.value is True:
            parts.append(name + serialize_params(member.params))
        else:
            parts.append(f"{name}={serialize_item(member)}")
    return ", ".join(parts)
