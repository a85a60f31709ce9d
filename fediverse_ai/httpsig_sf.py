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
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

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
]


class StructuredFieldError(ValueError):
    """The field value is not a valid Structured Field of the expected type."""


class Token(str):
    """An sf-token (``application/json``, ``*foo``); serialized without quotes."""

    __slots__ = ()


BareItem = int | Decimal | str | bytes | bool
Params = dict[str, BareItem]


@dataclass(frozen=True, slots=True)
class Item:
    """A bare item with its parameters."""

    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InnerList:
    """A parenthesised list of items, with parameters on the list itself."""

    items: tuple[Item, ...]
    params: Params = field(default_factory=dict)


Member = Item | InnerList

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_NUMBER = re.compile(r"-?([0-9]+)(\.[0-9]*)?")
_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")
_UNESCAPE = re.compile(r"\\(.)")
_MAX_INT = 999_999_999_999_999


class _Parser:
    """Cursor over one field value; each method consumes what it parsed."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> StructuredFieldError:
        return StructuredFieldError(f"{what} at offset {self.pos}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in chars:
            pos += 1
        self.pos = pos

    def key(self) -> str:
        match = _KEY.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a key")
        self.pos = match.end()
        return match.group()

    def params(self) -> Params:
        params: Params = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            name = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params[name] = value
        return params

    def bare_item(self) -> BareItem:
        text, pos = self.text, self.pos
        char = self.peek()
        if char == "-" or char.isdigit():
            return self.number()
        if char == '"':
            match = _STRING.match(text, pos)
            if match is None:
                raise self.fail("invalid string")
            self.pos = match.end()
            return _UNESCAPE.sub(r"\1", match.group(1))
        if char == ":":
            match = _BYTES.match(text, pos)
            if match is None:
                raise self.fail("invalid byte sequence")
            self.pos = match.end()
            data = match.group(1).rstrip("=")
            try:
                # RFC 8941 asks parsers to tolerate missing padding.
                return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
            except binascii.Error as exc:
                raise self.fail("invalid base64 in byte sequence") from exc
        if char == "?":
            if text[pos + 1 : pos + 2] not in ("0", "1"):
                raise self.fail("invalid boolean")
            self.pos = pos + 2
            return text[pos + 1] == "1"
        match = _TOKEN.match(text, pos)
        if match is None:
            raise self.fail("expected an item")
        self.pos = match.end()
        return Token(match.group())

    def number(self) -> int | Decimal:
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            raise self.fail("invalid number")
        whole, fraction = match.group(1), match.group(2)
        if fraction is None:
            if len(whole) > 15:
                raise self.fail("integer too long")
            self.pos = match.end()
            return int(match.group())
        if len(whole) > 12 or not 2 <= len(fraction) <= 4:
            raise self.fail("invalid decimal")
        self.pos = match.end()
        return Decimal(match.group())

    def item_or_inner_list(self) -> Member:
        if self.peek() != "(":
            value = self.bare_item()
            return Item(value, self.params())
        self.pos += 1
        items: list[Item] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.params())
            value = self.bare_item()
            items.append(Item(value, self.params()))
            if self.peek() not in (" ", ")"):
                raise self.fail("unterminated inner list")


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse an sf-dictionary (RFC 8941 section 4.2.2); a duplicate key overwrites in place."""
    parser = _Parser(text)
    parser.skip(" ")
    result: dict[str, Member] = {}
    if parser.pos == len(text):
        return result
    while True:
        name = parser.key()
        if parser.peek() == "=":
            parser.pos += 1
            member = parser.item_or_inner_list()
        else:
            member = Item(True, parser.params())
        result[name] = member
        parser.skip(" \t")
        if parser.pos == len(text):
            return result
        if parser.peek() != ",":
            raise parser.fail("expected ','")
        parser.pos += 1
        parser.skip(" \t")
        if parser.pos == len(text):
            raise parser.fail("trailing comma")


def serialize_bare_item(value: BareItem) -> str:
    """Serialize one bare item (RFC 8941 section 4.1.3)."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > _MAX_INT:
            raise StructuredFieldError("integer out of range")
        return str(value)
    if isinstance(value, Decimal):
        text = format(value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN), "f")
        whole, _, fraction = text.partition(".")
        if len(whole.lstrip("-")) > 12:
            raise StructuredFieldError("decimal out of range")
        return f"{whole}.{fraction.rstrip('0') or '0'}"
    if isinstance(value, Token):
        if _TOKEN.fullmatch(value) is None:
            raise StructuredFieldError("invalid token")
        return str(value)
    if isinstance(value, str):
        if not value.isascii() or not value.isprintable():
            raise StructuredFieldError("strings must be printable ASCII")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ":" + base64.b64encode(value).decode("ascii") + ":"


def _serialize_params(params: Params) -> str:
    return "".join(
        f";{name}" if value is True else f";{name}={serialize_bare_item(value)}"
        for name, value in params.items()
    )


def serialize_item(item: Item) -> str:
    """Serialize an item with its parameters (RFC 8941 section 4.1.3)."""
    return serialize_bare_item(item.value) + _serialize_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    """Serialize an inner list; this is the RFC 9421 ``@signature-params`` value."""
    body = " ".join(serialize_item(item) for item in inner.items)
    return f"({body}){_serialize_params(inner.params)}"


def serialize_dictionary(members: dict[str, Member]) -> str:
    """Serialize an sf-dictionary (RFC 8941 section 4.1.2)."""
    parts: list[str] = []
    for name, member in members.items():
        if _KEY.fullmatch(name) is None:
            raise StructuredFieldError("invalid dictionary key")
        if isinstance(member, InnerList):
            parts.append(f"{name}={serialize_inner_list(member)}")
        elif member.value is True:
            parts.append(name + _serialize_params(member.params))
        else:
            parts.append(f"{name}={serialize_item(member)}")
    return ", ".join(parts)
