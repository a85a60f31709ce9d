"""Offline picture hints: load time, ms per image, memory (``python -m bench.offline_vision``).

Each measurement runs in a fresh process, so the load is cold and the memory is what the
network adds to a Python that has imported numpy and Pillow. Two runs: with the BLAS
thread variables set to 1, and unset (the classifier limits itself to one BLAS thread with
threadpoolctl, so the two should agree; before it did, the unset run was 2-4x slower on a
busy two-core machine). Pictures: scikit-learn's two sample photos (640x427), and a sign
rendered by Pillow for OCR. Not part of ``make bench``: about 20 seconds, no server.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .common import child_json, table

RUNS = 20
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _samples() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # its sample photos, as the tests use them
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "datasets" / "images"


def _sign(lines: list[str]) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 90 + 80 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 80 * i), line, fill="black", font=ImageFont.truetype(FONT, 44))
    return image


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure() -> dict[str, Any]:
    """One process's figures; numpy's thread count is set by the caller's environment."""
    import numpy  # noqa: F401  (imported before the baseline, as the server has it)
    from PIL import Image

    from fediverse_ai.ai.ocr import Reader
    from fediverse_ai.ai.offline_vision import OfflineVision, load_network

    photos = [Image.open(_samples() / name).convert("RGB") for name in ("china.jpg", "flower.jpg")]
    before = _rss_mb()
    start = time.perf_counter()
    load_network()
    load_s = time.perf_counter() - start
    vision = OfflineVision()
    vision.classify(photos[0])  # the instance's own load
    after = _rss_mb()
    times = []
    for _ in range(RUNS):
        for photo in photos:
            start = time.perf_counter()
            vision.classify(photo)
            times.append((time.perf_counter() - start) * 1000)
    reader = Reader()
    text_image = _sign(["Fresh bread today", "Boulangerie ouverte le dimanche"])
    ocr_ms = []
    for picture in (text_image, photos[1]):
        start = time.perf_counter()
        reader.read(picture)
        ocr_ms.append((time.perf_counter() - start) * 1000)
    return {
        "load_s": load_s,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "classify_p50_ms": statistics.median(times),
        "classify_min_ms": min(times),
        "ocr_sign_ms": ocr_ms[0],
        "ocr_photo_ms": ocr_ms[1],
    }


def _run(threads: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
        if threads is not None:
            env[name] = threads
    return child_json("bench.offline_vision", "--child", env=env)


def main() -> None:
    if "--child" in sys.argv:
        print(json.dumps(measure()))
        return
    rows = []
    for label, threads in (("=1", "1"), ("unset", None)):
        r = _run(threads)
        rows.append(
            {
                "OMP/OPENBLAS_NUM_THREADS": label,
                "load ms": round(r["load_s"] * 1000),
                "classify ms p50": round(r["classify_p50_ms"]),
                "classify ms min": round(r["classify_min_ms"]),
                "RSS added MB": round(r["rss_after_mb"] - r["rss_before_mb"]),
                "peak RSS MB": round(r["peak_rss_mb"]),
                "OCR ms sign": round(r["ocr_sign_ms"]),
                "OCR ms photo": round(r["ocr_photo_ms"]),
            }
        )
    print(table("Offline vision (EfficientNet-Lite0 in numpy, Tesseract)", rows))


if __name__ == "__main__":
    main()
