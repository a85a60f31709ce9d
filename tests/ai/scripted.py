"""A stand-in OpenAI-compatible server on loopback that says what the test scripts.

The real text backends the tests run (llama.cpp's server with a tiny model, the offline
SmolLM2) cannot be made to answer a given string on demand, and the tests of what we do with
a model's words (a mention in them, a link, an echoed prompt marker) need exactly that. It
speaks the Chat Completions API over real HTTP and records every request, so tests can also
read the prompt we built. Its image endpoint answers a real PNG without a ``revised_prompt``,
as stable-diffusion servers do, so that our answer echoes the prompt as its caption.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Sequence
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


class ScriptedChat:
    """Answers the n-th completion request with ``answers[n]`` (the last one once past the end)."""

    def __init__(self, answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.image_prompts: list[str] = []
        self.edits: list[dict[str, Any]] = []  # fields of each image edit ("image": PNG bytes)
        # Set ``gate`` to hold answers until it opens (a generation in progress); ``arrived``
        # tells that a request is being held.
        self.gate: threading.Event | None = None
        self.gate_timeout = 60.0  # seconds a held answer waits for the gate at most
        self.arrived = threading.Event()
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = 404, {"error": {"message": "not found"}}
                if self.path == "/v1/images/edits":
                    status, answer = 200, chat._edit(self.headers["Content-Type"], raw)
                    raw = b"{}"
                body = json.loads(raw)
                if self.path == "/v1/chat/completions":
                    status, answer = 200, chat._completion(body)
                elif self.path == "/v1/images/generations":
                    status, answer = 200, chat._image(body)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a held answer (a stopped worker)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._lock = threading.Lock()

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(body)
            text = self.answers[min(len(self.requests), len(self.answers)) - 1]
        self.arrived.set()
        if self.gate is not None:
            self.gate.wait(timeout=self.gate_timeout)
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "model": "scripted",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }

    def _image(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.image_prompts.append(str(body.get("prompt")))
        width, height = (int(n) for n in str(body.get("size", "64x64")).split("x"))
        out = io.BytesIO()
        Image.new("RGB", (width, height), "teal").save(out, format="PNG")
        return {"created": 0, "data": [{"b64_json": base64.b64encode(out.getvalue()).decode()}]}

    def _edit(self, content_type: str, raw: bytes) -> dict[str, Any]:
        """An image edit, a multipart form: recorded as its fields and the image's pixels."""
        form = BytesParser(policy=default).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        fields: dict[str, Any] = {}
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            fields[str(name)] = data if part.get_filename() else data.decode()
        with self._lock:
            self.edits.append(fields)
        with Image.open(io.BytesIO(fields["image"])) as source:
            out = io.BytesIO()
            source.convert("L").convert("RGB").save(out, format="PNG")  # an "edit": grey
        return {"created": 0, "data": [{"b64_json": base64.b64encode(out.getvalue()).decode()}]}

    def prompt(self, index: int = -1) -> list[dict[str, str]]:
        """The messages of one request we received (the last by default)."""
        messages: list[dict[str, str]] = self.requests[index]["messages"]
        return messages

    def __enter__(self) -> ScriptedChat:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.gate is not None:
            self.gate.set()
        self._server.shutdown()
        self._server.server_close()
