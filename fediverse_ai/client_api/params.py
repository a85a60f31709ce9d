"""Request parameters the way Mastodon reads them: query string, form or JSON body alike,
with ``name[]`` for lists; and the Link-header pagination of list endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from quart import Response, request

from ..state import State
from ..storage.client_api import IdWindow
from ..web.body_gate import REFUSED_KEY
from ..web.common import json_response
from .errors import ApiError, Invalid

_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MAX_VALUE = 20_000


async def read() -> dict[str, Any]:
    """Every parameter of the request, later sources winning: query, then form or JSON."""
    if request.scope.get(REFUSED_KEY) is not None:
        # The body gate keeps bodies over 16 KB without a session cookie out of Quart's
        # buffer; an API body that large is nothing this slice of the API accepts.
        raise ApiError(413, "the request body is too large")
    out: dict[str, Any] = {}
    _merge_multidict(out, request.args)
    if request.method in _BODY_METHODS:
        if request.is_json:
            data = await request.get_json(silent=True)
            if data is not None and not isinstance(data, dict):
                raise Invalid("the JSON body must be an object")
            for key, value in (data or {}).items():
                out[str(key).removesuffix("[]")] = value
        else:
            _merge_multidict(out, await request.form)
    return out


def _merge_multidict(out: dict[str, Any], source: Any) -> None:
    for key in source:
        if key.endswith("[]"):
            out[key[:-2]] = source.getlist(key)
        else:
            out[key] = source.get(key)


async def hashes(p: dict[str, Any], name: str, *, most: int = 20) -> list[dict[str, Any]]:
    """A list of hashes, as Rails reads them and Mastodon takes ``media_attributes``: a JSON
    list of objects, or form fields ``name[][key]`` (a key seen again starts the next hash)
    or ``name[0][key]`` (grouped by index)."""
    value = p.get(name)
    if value is not None:
        if isinstance(value, dict):  # {"0": {...}, "1": {...}}
            value = list(value.values())
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise Invalid(f"{name} must be a list of objects")
        if len(value) > most:
            raise Invalid(f"at most {most} values of {name}")
        return value
    if request.method not in _BODY_METHODS or request.is_json:
        return []
    out: list[dict[str, Any]] = []
    by_index: dict[str, dict[str, Any]] = {}
    prefix = f"{name}["
    for key, item in (await request.form).items(multi=True):
        if not key.startswith(prefix) or not key.endswith("]"):
            continue
        index, _, field = key[len(prefix) : -1].partition("][")
        if not field:
            continue
        if index:
            target = by_index.get(index)
            if target is None:
                target = by_index[index] = {}
                out.append(target)
        elif not out or field in out[-1]:
            target = {}
            out.append(target)
        else:
            target = out[-1]
        target[field] = item
        if len(out) > most:
            raise Invalid(f"at most {most} values of {name}")
    return out


def text(params: dict[str, Any], name: str, *, limit: int = MAX_VALUE) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        value = str(value).lower()
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    if len(value) > limit:
        raise Invalid(f"{name} is too long (at most {limit} characters)")
    return value


def flag(params: dict[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "on", "t", "yes"):
        return True
    if lowered in ("false", "0", "off", "f", "no"):
        return False
    raise Invalid(f"{name} must be true or false")


def strings(params: dict[str, Any], name: str, *, most: int = 100) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if len(items) > most:
        raise Invalid(f"at most {most} values of {name}")
    return [str(v)[:200] for v in items]


def _decimal(raw: str, digits: int) -> int | None:
    # isascii(): str.isdigit() is also true for "²", which int() refuses (a 500 the fuzzer found).
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < digits else None


def object_id(raw: str) -> int | None:
    """Our ids are decimal strings; anything else names no record (a 404, not a 500)."""
    return _decimal(raw, 19)


@dataclass(frozen=True)
class Page:
    """``max_id`` (older than), ``since_id`` (newer than), ``min_id`` (just newer than, oldest
    first), and ``limit``, capped as Mastodon caps it."""

    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int

    @property
    def newer_than(self) -> int | None:
        return self.min_id if self.min_id is not None else self.since_id

    @property
    def oldest_first(self) -> bool:
        return self.min_id is not None

    def window(self) -> IdWindow:
        return IdWindow(self.max_id, self.newer_than, self.oldest_first, self.limit)


def page(default: int = 20, cap: int = 40) -> Page:
    args = request.args

    def one(name: str) -> int | None:
        return _decimal(args.get(name, "").strip(), 19)

    limit = _decimal(args.get("limit", "").strip(), 6) or default
    return Page(one("max_id"), one("since_id"), one("min_id"), max(1, min(limit, cap)))


def link_header(base_url: str, ids: list[str], size: int) -> str | None:
    """``Link: <…?max_id=oldest>; rel="next", <…?min_id=newest>; rel="prev"``, keeping the
    request's other parameters (``only_media``, ``local``, ``limit``…)."""
    if not ids:
        return None
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in _CURSOR_ARGS]
    url = f"{base_url}{request.path}?"
    links = []
    if len(ids) >= size:
        links.append(f'<{url}{urlencode([*kept, ("max_id", ids[-1])])}>; rel="next"')
    links.append(f'<{url}{urlencode([*kept, ("min_id", ids[0])])}>; rel="prev"')
    return ", ".join(links)


_CURSOR_ARGS = ("max_id", "since_id", "min_id")


def paged(
    state: State, docs: list[dict[str, Any]], limit: int, ids: list[str] | None = None
) -> Response:
    """A page of entities with its Link header; ``ids`` are the cursors of its items (the
    entities' own ids unless given: account lists page by follow or reaction id)."""
    resp = json_response(docs)
    cursors = ids if ids is not None else [str(d["id"]) for d in docs]
    link = link_header(state.config.instance.base_url, cursors, limit)
    if link:
        resp.headers["Link"] = link
    return resp
