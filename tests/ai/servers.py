"""Real AI servers for the backend tests, and the tiny models they serve.

* ``llama_cpp.server`` (llama-cpp-python, built by ``scripts/build-llama-cpp.sh``) serving
  a llama-architecture GGUF that ``write_tiny_gguf`` writes in well under a second: one
  layer, 64 dimensions, a SentencePiece-style vocabulary of ~300 tokens. Its weights are
  chosen, not trained: every layer is zero, so the last hidden state is the same for any
  prompt, and the output matrix makes the six word tokens equally likely and every
  control and byte token (end-of-text included) practically impossible. So the model
  always answers with exactly ``max_tokens`` words, gibberish but countable. (Its sibling
  in ``vision_models``, with an mmproj projector, also names the colour of a picture.)
* stable-diffusion.cpp's ``sd-server`` (built by ``scripts/build-sd-server.sh``) serving a
  zero-weight SDXS-512 checkpoint that ``write_zero_sdxs`` writes from the tensor list in
  ``shared/data/sdxs_tensors.json``. Its pictures are flat, and real PNGs.

Servers run as subprocesses on 127.0.0.1 with a free port and are stopped by PID when the
``running`` context exits, whether the test passed or not. When a build is missing the
tests fail with the command to run, unless ``FEDIVERSE_AI_SKIP_HEAVY=1`` asks to skip them.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SD_SERVER_BIN = REPO_ROOT / ".cache" / "sd-server" / "sd-server"
SDXS_TENSORS = REPO_ROOT / "tests" / "fixtures" / "sdxs_tensors.json"
SKIP_HEAVY_ENV = "FEDIVERSE_AI_SKIP_HEAVY"

TINY_MODEL_ALIAS = "tiny-llama-test"
LLAMA_API_KEY = "sk-test-0123456789abcdef"  # the llama_server fixture requires it
TINY_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")


def require_build(ok: bool, what: str, script: str) -> None:
    """Fail (never skip silently) when a build product is missing; skip only on request."""
    if ok:
        return
    message = f"{what} is missing: run `bash scripts/{script}` first"
    if os.environ.get(SKIP_HEAVY_ENV) == "1":
        pytest.skip(f"{message} ({SKIP_HEAVY_ENV}=1)")
    pytest.fail(f"{message} (or set {SKIP_HEAVY_ENV}=1 to skip these tests)", pytrace=False)


def require_llama_cpp() -> None:
    found = all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "gguf", "fastapi"))
    require_build(found, "llama-cpp-python[server] and gguf", "build-llama-cpp.sh")


def require_llama_vision() -> None:
    """llama-cpp-python built with llama.cpp's multimodal library (``LLAVA_BUILD=ON``)."""
    require_llama_cpp()
    spec = importlib.util.find_spec("llama_cpp")
    folders = spec.submodule_search_locations if spec else None
    found = any(any((Path(f) / "lib").glob("libmtmd.*")) for f in folders or ())
    require_build(found, "llama-cpp-python's libmtmd (LLAVA_BUILD=ON)", "build-llama-cpp.sh")


def require_sd_server() -> None:
    require_build(os.access(SD_SERVER_BIN, os.X_OK), str(SD_SERVER_BIN), "build-sd-server.sh")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    base_url: str  # http://127.0.0.1:PORT (no API prefix)
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def tiny_text_backend_toml(server: RunningServer, *, max_tokens: int = 6) -> str:
    """The ``[ai.text]`` section of a config answering through ``server`` (``llama_server``)."""
    return f"""
[ai.text]
backend = "openai"
base_url = "{server.base_url}/v1"
api_key = "{LLAMA_API_KEY}"
model = "{TINY_MODEL_ALIAS}"
max_tokens = {max_tokens}
"""


@contextmanager
def running(
    command: Sequence[str],
    *,
    port: int,
    ready_path: str,
    log_path: Path,
    startup_s: float,
    headers: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    """Start ``command``, wait until ``GET ready_path`` answers 200, stop it by PID on exit."""
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    server = RunningServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_ready(server, ready_path, startup_s, headers or {})
        yield server
    finally:
        stop(server)
        log.close()


def stop(server: RunningServer) -> None:
    """SIGTERM the server's own PID, then SIGKILL if it lingers; idempotent."""
    process = server.process
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_ready(
    server: RunningServer, path: str, startup_s: float, headers: dict[str, str]
) -> None:
    deadline = time.monotonic() + startup_s
    with httpx.Client(timeout=2.0, headers=headers) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"server exited with {server.process.returncode}:\n{server.log_tail()}")
            try:
                if client.get(server.base_url + path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    pytest.fail(f"server not ready after {startup_s} s:\n{server.log_tail()}")


def llama_server_command(model: Path, port: int, *, api_key: str | None = None) -> list[str]:
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += ["--model_alias", TINY_MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "2048", "--n_threads", "1", "--n_batch", "256"]
    return command + (["--api_key", api_key] if api_key else [])


def sd_server_command(model: Path, port: int) -> list[str]:
    command = [str(SD_SERVER_BIN), "--model", str(model), "--listen-ip", "127.0.0.1"]
    command += ["--listen-port", str(port), "--threads", "2", "--mmap"]
    # One sampling step and no classifier-free guidance: one UNet pass per picture.
    return [*command, "--steps", "1", "--cfg-scale", "1.0", "-W", "64", "-H", "64"]


@contextmanager
def silent_listener() -> Iterator[socket.socket]:
    """A loopback port that completes TCP handshakes (in the kernel's backlog) and never
    answers: the one way to make a request hang. ``accept()`` on it tells whether anyone
    connected."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock
    finally:
        sock.close()


def connection_attempted(listener: socket.socket) -> bool:
    listener.setblocking(False)
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


TINY_HEADS = 4
FIRST_WORD = 3 + 256  # the token id of the first word: after the control and byte tokens


def tiny_llama_writer(path: Path, words: Sequence[str], *, n_embd: int = 64) -> Any:
    """A ``gguf.GGUFWriter`` for a one-layer llama-architecture model of width ``n_embd``
    whose vocabulary is the control and byte tokens then ``words``, all metadata written;
    the caller adds the tensors (``tiny_llama_layer``) and calls ``finish_gguf``."""
    import gguf

    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    tokens += ["▁" + word for word in words]
    types += [gguf.TokenType.NORMAL] * len(words)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny llama for tests")
    writer.add_context_length(256)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(2 * n_embd)
    writer.add_head_count(TINY_HEADS)
    writer.add_head_count_kv(TINY_HEADS)
    writer.add_rope_dimension_count(n_embd // TINY_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * 3 + [-1000.0] * 256 + [-1.0] * len(words))
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    return writer


def tiny_llama_layer(n_embd: int) -> dict[str, tuple[int, int]]:
    """The layer's weight matrices (``blk.0.NAME.weight``) and their numpy shapes (out, in)."""
    square, up, down = (n_embd, n_embd), (2 * n_embd, n_embd), (n_embd, 2 * n_embd)
    layer = {"attn_q": square, "attn_k": square, "attn_v": square, "attn_output": square}
    return layer | {"ffn_gate": up, "ffn_up": up, "ffn_down": down}


def finish_gguf(writer: Any) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_tiny_gguf(path: Path) -> None:
    """A llama-architecture GGUF that llama.cpp loads and samples words from (see module doc)."""
    import numpy as np

    n_embd = 64
    writer = tiny_llama_writer(path, TINY_WORDS, n_embd=n_embd)
    n_vocab = FIRST_WORD + len(TINY_WORDS)
    f32 = np.float32
    # Identical embeddings and zero layers: the final hidden state is all ones for any input.
    writer.add_tensor("token_embd.weight", np.ones((n_vocab, n_embd), dtype=f32))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=f32))
    # Logit = row sum: +1 for the words, -20 for everything else (end-of-text included).
    output = np.full((n_vocab, n_embd), -20.0 / n_embd, dtype=f32)
    output[FIRST_WORD:] = 1.0 / n_embd
    writer.add_tensor("output.weight", output)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, dtype=f32))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, dtype=f32))
    for name, shape in tiny_llama_layer(n_embd).items():
        writer.add_tensor(f"blk.0.{name}.weight", np.zeros(shape, dtype=f32))
    finish_gguf(writer)


_DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1}

# Two tensors of SDXS-512 that shared/data/sdxs_tensors.json does not list, and without
# which sd-server refuses the file: it tells the model's version from the text encoder's
# token embedding ("get sd version from file failed"), and it requires every tensor of
# the UNet, the first convolution included ("tensor ... not in model file"). Their
# shapes are CLIP ViT-L/14's vocabulary (49408 x 768) and the UNet's 4 -> 320 conv_in.
_CLIP_TOKEN_EMBEDDING = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"
SDXS_TENSORS_NOT_IN_LIST = [
    [_CLIP_TOKEN_EMBEDDING, "F32", [49408, 768]],
    ["model.diffusion_model.input_blocks.0.0.weight", "F16", [320, 4, 3, 3]],
]


def write_zero_sdxs(path: Path, spec: Path = SDXS_TENSORS) -> int:
    """Write a ``.safetensors`` file of zeros with the tensors listed in ``spec`` (plus
    ``SDXS_TENSORS_NOT_IN_LIST`` where the list lacks them); return the file's size.

    The format is an 8-byte little-endian header length, a JSON header giving each
    tensor's dtype, shape and byte range, then the raw data. All data is zero, so the
    file is extended with ``truncate``: sparse on disk, and written with no memory.
    """
    tensors = json.loads(spec.read_text())
    listed = {name for name, _, _ in tensors}
    tensors += [t for t in SDXS_TENSORS_NOT_IN_LIST if t[0] not in listed]
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, dtype, shape in tensors:
        size = _DTYPE_SIZES[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # data starts 8-byte aligned
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        out.truncate(8 + len(encoded) + offset)
    return 8 + len(encoded) + offset


class UrlAnsweringRelay:
    """A loopback relay in front of the real ``sd-server`` that answers as OpenAI does with
    ``response_format="url"``: sd-server only ever answers inline (``b64_json``) and never
    revises prompts. The picture served is sd-server's own; the relay only moves it behind
    a URL (on ``url_host``) and adds a ``revised_prompt``. ``downloads`` records each GET."""

    def __init__(self, upstream: str, *, url_host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self.url_host = url_host
        self.downloads: list[str] = []
        self._files: dict[str, bytes] = {}
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = httpx.post(relay.upstream + self.path, content=body, timeout=120)
                data = answer.json()
                if answer.status_code == 200:
                    prompt = json.loads(body)["prompt"]
                    data["data"] = [relay._as_url(item, prompt) for item in data["data"]]
                self._send(answer.status_code, "application/json", json.dumps(data).encode())

            def do_GET(self) -> None:
                relay.downloads.append(self.path)
                found = relay._files.get(self.path)
                self._send(200 if found else 404, "image/png", found or b"")

            def _send(self, status: int, content_type: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _as_url(self, item: dict[str, str], prompt: str) -> dict[str, str]:
        path = f"/files/{len(self._files)}.png"
        self._files[path] = base64.b64decode(item["b64_json"])
        url = f"http://{self.url_host}:{self.port}{path}"
        return {"url": url, "revised_prompt": f"  A revised prompt: {prompt}  "}

    def __enter__(self) -> UrlAnsweringRelay:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
