"""Text in a picture, read by Debian's ``tesseract`` binary (``tesseract-ocr``), when installed.

The binary runs without a shell, with the picture on stdin (a PNG we re-encoded ourselves),
a time limit and one thread. Only words Tesseract itself is confident about are kept: on a
photo without text it otherwise "reads" noise, and a hint that is noise is worse than none.
When the binary is absent, OCR is skipped silently (README says how to install it).
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import threading

from PIL import Image

log = logging.getLogger(__name__)

LANGUAGES = ("eng", "fra", "ita")
TIMEOUT_SECONDS = 10.0
MIN_CONFIDENCE = 70.0
MAX_SIDE = 2000  # more pixels make Tesseract slower, not better, for text a person can read
MAX_CHARS = 280
_WORD = re.compile(r"[^\W_]{2,}|\d")


class Reader:
    """Finds the binary and its languages once; ``read(image)`` returns the text, or ""."""

    def __init__(self, binary: str = "tesseract") -> None:
        self._binary = binary
        self._lock = threading.Lock()
        self._probed = False
        self._path: str | None = None
        self._languages = ""

    @property
    def available(self) -> bool:
        """Whether the binary and at least one of our languages are installed."""
        self._probe()
        return self._path is not None and bool(self._languages)

    def _probe(self) -> None:
        with self._lock:
            if self._probed:
                return
            self._probed = True
            self._path = shutil.which(self._binary)
            if self._path is None:
                log.info("tesseract not installed: pictures get no OCR hints")
                return
            try:
                done = subprocess.run(
                    [self._path, "--list-langs"], capture_output=True, timeout=TIMEOUT_SECONDS
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.warning("tesseract --list-langs failed: %s", exc)
                self._path = None
                return
            found = set(done.stdout.decode("utf-8", "replace").split())
            self._languages = "+".join(lang for lang in LANGUAGES if lang in found)

    def read(self, image: Image.Image) -> str:
        """The confident words of ``image``, line by line, at most ``MAX_CHARS``; "" if none."""
        if not self.available:
            return ""
        assert self._path is not None  # checked by available
        picture = image.convert("L")
        picture.thumbnail((MAX_SIDE, MAX_SIDE))
        data = io.BytesIO()
        picture.save(data, format="PNG")
        env = {"PATH": os.environ.get("PATH", ""), "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(
                [self._path, "stdin", "stdout", "-l", self._languages, "--psm", "3", "tsv"],
                input=data.getvalue(),
                capture_output=True,
                timeout=TIMEOUT_SECONDS,
                env=env,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.info("OCR skipped: %s", exc)
            return ""
        if done.returncode != 0:
            log.info("OCR failed: %s", done.stderr[-200:].decode("utf-8", "replace"))
            return ""
        return confident_text(done.stdout.decode("utf-8", "replace"))


def confident_text(tsv: str) -> str:
    """The words of Tesseract's TSV output at or above ``MIN_CONFIDENCE``, joined by line."""
    lines: dict[tuple[str, ...], list[str]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) != 12 or cells[0] != "5":  # level 5: a word
            continue
        try:
            confidence = float(cells[10])
        except ValueError:
            continue
        word = cells[11].strip()
        if confidence >= MIN_CONFIDENCE and _WORD.search(word):
            lines.setdefault(tuple(cells[1:5]), []).append(word)
    text = " / ".join(" ".join(words) for words in lines.values())
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1].rstrip() + "…"
    return text
