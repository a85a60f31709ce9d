"""The backend for servers that speak the OpenAI HTTP API: chat completions, and the plumbing.

One implementation covers OpenAI and the local servers that copy its API (llama.cpp,
Ollama, vLLM, LocalAI, stable-diffusion.cpp's ``sd-server``). ``base_url`` includes the
version prefix, as all of them document it: ``http://127.0.0.1:8080/v1``.

What this module adds over a plain ``httpx`` call, and why:

* the SSRF guard on the base URL before every request, and on any image URL the
  backend answers with (fetched through ``fetcher.fetch_bytes``): a misconfigured or
  compromised backend must not steer us to internal addresses;
* a streamed cap on response bodies, so a broken backend cannot make us buffer gigabytes;
* one deadline per call, covering connect, generation and the body;
* failures sorted into ``BackendError(retryable=...)`` where they happen, with messages
  safe to show: no API key, no URL, at most ~200 characters of the server's own text.

The request/response helpers (``post_json``, ``decode_image``) are shared with the
AUTOMATIC1111 backend, which speaks a different API over the same plumbing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from PIL import Image

from fediverse_ai import safe_json
from fediverse_ai.ai.base import BackendError, ChatMessage, TextResult
from fediverse_ai.errors import BadRequest, UnsafeURL
from fediverse_ai.http_body import one_short_line, read_error_head
from fediverse_ai.netguard import CANNOT_RESOLVE, NetGuard

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_RESPONSE_BYTES",
    "MAX_TEXT_RESPONSE_BYTES",
    "OpenAITextBackend",
    "answer_field",
    "decode_base64_image",
    "decode_image",
    "first_item",
    "is_retryable_status",
    "model_name",
    "post_json",
]

MAX_TEXT_RESPONSE_BYTES = 1_048_576  # a chat answer: far above anything a bot posts
MAX_IMAGE_BYTES = 16 * 1024 * 1024  # one generated image, inline (decoded) or fetched
# An image API's JSON: one base64 image of MAX_IMAGE_BYTES plus the envelope.
MAX_IMAGE_RESPONSE_BYTES = MAX_IMAGE_BYTES * 4 // 3 + 65_536

_ERROR_SNIPPET_BYTES = 2048
_RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError)


class OpenAITextBackend:
    """Chat completions (``POST {base_url}/chat/completions``), non-streaming."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout: float,
        http: httpx.AsyncClient,
        guard: NetGuard,
        temperature: float = 0.7,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key or None
        self.model = model
        self._timeout = timeout
        self._http = http
        self._guard = guard
        self.temperature = temperature

    async def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> TextResult:
        """Ask for one completion of ``messages``; the answer is stripped of outer whitespace.

        Reasoning models (DeepSeek-R1, QwQ, gpt-oss behind vLLM or llama.cpp) return
        their chain of thought in ``reasoning_content``; it is used only when the answer
        itself is empty, which happens when the token budget ran out while thinking.
        """
        payload = {
            "model": self.model,
            "messages": [_message(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": False,
        }
        data = await post_json(
            self._http,
            self._url,
            payload,
            guard=self._guard,
            timeout=self._timeout,
            max_bytes=MAX_TEXT_RESPONSE_BYTES,
            api_key=self._api_key,
            what="text backend",
        )
        message = first_item(answer_field(data, "choices"), "choices").get("message")
        if not isinstance(message, Mapping):
            raise BackendError("text backend answer has no message", retryable=False)
        text = _message_text(message.get("content"))
        if not text:
            for key in ("reasoning_content", "reasoning"):
                text = _message_text(message.get(key))
                if text:
                    break
        if not text:
            raise BackendError("text backend returned an empty completion", retryable=False)
        return TextResult(text=text, backend=self.name, model=model_name(data, self.model))

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to the caller."""


async def post_json(
    http: httpx.AsyncClient,
    url: str,
    payload: Mapping[str, Any],
    *,
    guard: NetGuard,
    timeout: float,  # noqa: ASYNC109 -- one deadline over the whole call, set per backend
    max_bytes: int,
    api_key: str | None = None,
    what: str,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
) -> Any:
    """POST ``payload`` as JSON to ``url`` and return the decoded JSON answer.

    With ``files`` (name -> (file name, bytes, type)) the request is a multipart form of
    ``payload``'s fields and the files instead, as the image edit endpoint takes it.

    The guard checks ``url`` before any connection. Redirects are not followed: an API
    endpoint has no reason to redirect a POST, and following one would carry the key
    elsewhere. ``what`` names the backend in error messages ("text backend").
    """
    try:
        await guard.check_url(url)
    except UnsafeURL as exc:
        retryable = exc.message == CANNOT_RESOLVE
        raise BackendError(f"{what} URL refused: {exc.message}", retryable=retryable) from None
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        async with asyncio.timeout(timeout):
            content: dict[str, Any] = (
                {"data": {k: str(v) for k, v in payload.items()}, "files": files}
                if files is not None
                else {"json": payload}
            )
            request = http.build_request(
                "POST", url, headers=headers, timeout=httpx.Timeout(timeout), **content
            )
            response = await http.send(request, stream=True, follow_redirects=False)
            try:
                if not response.is_success:
                    snippet = await _error_snippet(response, secret=api_key)
                    raise _status_error(what, response.status_code, snippet)
                body = await _read_capped(response, max_bytes, what)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        raise BackendError(f"{what} timed out", retryable=True) from None
    except httpx.ConnectError:
        raise BackendError(f"{what}: could not connect", retryable=True) from None
    except httpx.InvalidURL:
        raise BackendError(f"{what}: invalid URL", retryable=False) from None
    except httpx.HTTPError:
        raise BackendError(f"{what}: network error", retryable=True) from None
    try:
        # safe_json: a model's lone surrogate would otherwise reach the database (issue 13).
        return safe_json.loads(body)
    except BadRequest:
        raise BackendError(f"{what} returned malformed JSON", retryable=False) from None


def decode_base64_image(value: str, *, what: str) -> bytes:
    """Decode an inline base64 image, tolerating a ``data:image/...;base64,`` prefix."""
    if value.startswith("data:"):
        value = value.partition(",")[2]
    if len(value) > MAX_IMAGE_RESPONSE_BYTES:
        raise BackendError(f"{what}'s image is too large", retryable=False)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BackendError(f"{what} returned invalid base64", retryable=False) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise BackendError(f"{what}'s image is too large", retryable=False)
    return data


async def decode_image(data: bytes, *, what: str) -> tuple[str, int, int]:
    """Check that ``data`` is a whole PNG, JPEG or WebP image; return (format, width, height).

    Runs in a thread: verifying checksums of a large image is CPU work. Decompression
    bombs are refused here rather than warned about, as in the media pipeline.
    """
    try:
        return await asyncio.to_thread(_verify_image, data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BackendError(f"{what} returned an image that is too large", retryable=False) from None
    except _DECODE_ERRORS:
        raise BackendError(f"{what} returned data that is not an image", retryable=False) from None


def _verify_image(data: bytes) -> tuple[str, int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS) as image:
            found = (str(image.format), image.width, image.height)
            image.verify()
    return found


def answer_field(data: Any, key: str) -> Any:
    if not isinstance(data, Mapping):
        raise BackendError("backend answer is not a JSON object", retryable=False)
    return data.get(key)


def first_item(items: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(items, list) or not items or not isinstance(items[0], Mapping):
        raise BackendError(f"backend answer has no {key}", retryable=False)
    return items[0]


def _message(message: ChatMessage) -> dict[str, Any]:
    """A chat message; with pictures, as content parts: OpenAI's ``image_url`` shape, which
    Ollama, llama.cpp's server (with a projector) and vLLM accept too."""
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in message.images]
    return {"role": message.role, "content": parts}


def _message_text(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        parts = [
            p.get("text") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
        ]
        return "".join(p for p in parts if isinstance(p, str)).strip()
    return ""


def model_name(data: Any, default: str) -> str:
    model = data.get("model") if isinstance(data, Mapping) else None
    return model if isinstance(model, str) and model.strip() else default


def is_retryable_status(status: int) -> bool:
    return status in _RETRYABLE_STATUSES or status >= 500


def _status_error(what: str, status: int, snippet: str) -> BackendError:
    message = f"{what} returned HTTP {status}" + (f": {snippet}" if snippet else "")
    return BackendError(message, retryable=is_retryable_status(status))


async def _read_capped(response: httpx.Response, cap: int, what: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BackendError(f"{what} response exceeds {cap} bytes", retryable=False)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise BackendError(f"{what} response exceeds {cap} bytes", retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)


async def _error_snippet(response: httpx.Response, *, secret: str | None) -> str:
    """The server's explanation of an error, as one short printable line.

    OpenAI-style ``{"error": {"message": ...}}`` and FastAPI-style ``{"detail": ...}``
    bodies give their message; anything else gives the start of the body. Servers
    sometimes echo the key they refused: it is redacted before the text is cut short,
    so that no part of it can survive.
    """
    text = await read_error_head(response)
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, Mapping):
        error = parsed.get("error")
        message = error.get("message") if isinstance(error, Mapping) else error
        if not isinstance(message, str) or not message:
            message = parsed.get("message") or parsed.get("detail")
        if isinstance(message, str) and message:
            text = message
        elif message is not None:
            text = json.dumps(message)[:_ERROR_SNIPPET_BYTES]
    if secret:
        text = text.replace(secret, "[redacted]")
    return one_short_line(text)
