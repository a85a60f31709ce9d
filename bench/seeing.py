"""What preparing a picture for the AI costs, piece by piece: ``python -m bench.seeing``.

The picture is the mention benchmark's (``bench.apps.picture``, a 1600x1200 JPEG of 1 MB)
as the media cache stores it (the pipeline's progressive re-encode). Rows, each the best and
the median of a few runs in this one process, on the same bytes:

* the model's copy (``bot.seeing._encode``) against what it did before: the whole pipeline
  fitted within 1024 pixels (Lanczos, progressive optimised JPEG, blurhash), its JPEG sent;
* its pieces: the JPEG decode at full and at half scale, the Lanczos and bicubic resizes, the
  optimised progressive and the plain baseline encodes;
* the offline hints' picture (``bot.seeing._hint_text`` without the classifier and OCR)
  against the pipeline's full re-encode and decode that it replaced;
* the hints themselves: the classifier's resize (plain bicubic, as before, and with its
  integer pre-reduction), the whole classification, and Tesseract (wall time: a child
  process), which dominates.

Process CPU time, so that a loaded machine inflates the figures less than wall time would;
compare the rows of one run with each other, not with another run's.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable

from PIL import Image

from fediverse_ai.bot import seeing
from fediverse_ai.media import MediaLimits, decode_image, process_image

from .apps import picture

RUNS = 15


def _time(
    work: Callable[[], object], runs: int = RUNS, clock: Callable[[], float] = time.process_time
) -> tuple[float, float]:
    """(best, median) milliseconds of ``clock``, process CPU time unless told."""
    times = []
    for _ in range(runs):
        start = clock()
        work()
        times.append((clock() - start) * 1000)
    return min(times), statistics.median(times)


def _before_encode(raw: bytes) -> bytes:
    return process_image(raw, limits=MediaLimits(max_width=1024, max_height=1024)).data


def _before_hints(raw: bytes) -> Image.Image:
    clean = process_image(raw)
    with Image.open(io.BytesIO(clean.data)) as opened:
        return opened.convert("RGB")


def _after_hints(raw: bytes) -> Image.Image:
    return decode_image(raw, limits=seeing._HINTS_FIT, quick=True).image.convert("RGB")


def _decode(raw: bytes, scale: int) -> Image.Image:
    with Image.open(io.BytesIO(raw)) as opened:
        if scale > 1:
            opened.draft("RGB", (opened.width // scale, opened.height // scale))
        opened.load()
        return opened.copy()


def _save(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, **options)
    return out.getvalue()


def main() -> None:
    cached = process_image(picture()).data  # what the media cache holds
    full = _decode(cached, 1)
    fitted = full.resize((1024, 768), Image.Resampling.LANCZOS)
    rows: list[tuple[str, Callable[[], object]]] = [
        ("model copy, before (pipeline within 1024)", lambda: _before_encode(cached)),
        ("model copy, now (seeing._encode)", lambda: seeing._encode(cached)),
        ("  decode 1600x1200 progressive JPEG", lambda: _decode(cached, 1)),
        ("  decode it at 1/2 scale (800x600)", lambda: _decode(cached, 2)),
        (
            "  resize to 1024x768, Lanczos",
            lambda: full.resize((1024, 768), Image.Resampling.LANCZOS),
        ),
        (
            "  resize to 1024x768, bicubic",
            lambda: full.resize((1024, 768), Image.Resampling.BICUBIC),
        ),
        (
            "  encode 1024x768 progressive optimised",
            lambda: _save(fitted, progressive=True, optimize=True),
        ),
        ("  encode 1024x768 baseline", lambda: _save(fitted)),
        ("hints picture, before (re-encode, decode)", lambda: _before_hints(cached)),
        ("hints picture, now (decode_image)", lambda: _after_hints(cached)),
    ]
    results = [(label, *_time(work)) for label, work in rows]
    sizes = {
        "before": len(_before_encode(cached)),
        "now": len(seeing._encode(cached)) * 3 // 4,
    }
    results += _hints(_after_hints(cached))
    width = max(len(label) for label, *_ in results)
    print(f"{'piece':<{width}} | best ms | median ms")
    for label, best, median in results:
        print(f"{label:<{width}} | {best:7.1f} | {median:9.1f}")
    base = results[0][2]
    print(f"model copy: now / before (median) = {results[1][2] / base:.2f}")
    print(f"hints picture: now / before (median) = {results[9][2] / results[8][2]:.2f}")
    print(f"model copy bytes: before {sizes['before']:,}, now about {sizes['now']:,}")


def _hints(image: Image.Image) -> list[tuple[str, float, float]]:
    from fediverse_ai.ai.ocr import Reader
    from fediverse_ai.ai.offline_vision import OfflineVision, preprocess

    vision, reader = OfflineVision(), Reader()
    vision.classify(image)  # loads the network
    size = (round(image.width * 256 / image.height), 256)
    rows = [
        ("  classifier resize, bicubic", lambda: image.resize(size, Image.Resampling.BICUBIC)),
        (
            "  same, reduced first (gap 2)",
            lambda: image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2),
        ),
        ("  classifier preprocess (now)", lambda: preprocess(image)),
        ("hints: classify (labels)", lambda: vision.classify(image)),
    ]
    found = [(label, *_time(work)) for label, work in rows]
    if reader.available:
        wall = _time(lambda: reader.read(image), runs=3, clock=time.perf_counter)
        found.append(("hints: OCR, wall time (tesseract)", *wall))
    return found


if __name__ == "__main__":
    main()
