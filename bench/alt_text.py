"""Machine-written alt text offline: time per picture (``python -m bench.alt_text``).

What the ``describe_image`` job spends on one picture when the text backend cannot see: the
media pipeline's decode and re-encode (caps, EXIF dropped), the EfficientNet-Lite0 labels and
Tesseract OCR (``bot.alt_text.read_hints``) and the template. The baseline, measured in the
same run on the same bytes, is what the media cache already spends on each remote picture
(``process_image`` and the 640 px thumbnail): the ratio says what describing adds to caching.
Pictures: scikit-learn's Summer Palace photo (640x427, 192 KB), the same photo enlarged to a
2400x1601 JPEG (about 0.9 MB), and a sign rendered by Pillow (text for OCR). The network is loaded
before timing (its load, about 0.1 s once per process, is ``bench.offline_vision``'s).
Not part of ``make bench``: about a minute on a busy machine (``BENCH_QUICK=1``: half), no server.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from typing import Any

from .common import pick, ratio, table, write_result
from .offline_vision import _samples, _sign


def _jpeg(image: Any, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _pictures() -> dict[str, bytes]:
    from PIL import Image

    photo = (_samples() / "china.jpg").read_bytes()
    with Image.open(io.BytesIO(photo)) as opened:
        big = opened.convert("RGB").resize((2400, 1601), Image.Resampling.BICUBIC)
    return {
        "photo 640x427": photo,
        "photo 2400x1601": _jpeg(big, 95),
        "sign 900x170 (OCR)": _jpeg(_sign(["Fresh bread today"]), 92),
    }


def _p50_ms(work: Callable[[Any], object], arg: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work(arg)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    from PIL import Image

    from fediverse_ai.ai.ocr import Reader
    from fediverse_ai.ai.offline_vision import MAX_LABELS, OfflineVision
    from fediverse_ai.bot.alt_text import hint_wording, read_hints
    from fediverse_ai.media import make_thumbnail, process_image

    runs = pick(7, 3)
    vision, reader = OfflineVision(), Reader()
    pictures = _pictures()
    read_hints(vision, pictures["photo 640x427"])  # the network's load, not timed
    rows = []
    for label, raw in pictures.items():
        with Image.open(io.BytesIO(process_image(raw).data)) as opened:
            decoded = opened.convert("RGB")
        cached = _p50_ms(lambda r: make_thumbnail(process_image(r), 640), raw, runs)
        labels = _p50_ms(lambda im: vision.classify(im, MAX_LABELS), decoded, runs)
        ocr = _p50_ms(reader.read, decoded, runs)
        described = _p50_ms(lambda r: hint_wording(read_hints(vision, r)), raw, runs)
        rows.append(
            {
                "picture": label,
                "KB": round(len(raw) / 1024),
                "cache ms (baseline)": round(cached, 1),
                "labels ms": round(labels, 1),
                "OCR ms": round(ocr, 1),
                "describe ms": round(described, 1),
                "describe / cache": round(ratio(described, cached), 2),
                "text": hint_wording(read_hints(vision, raw))[:60],
            }
        )
    print(table("Machine-written alt text, offline (per picture, p50)", rows))
    write_result("alt_text", {"runs": runs, "rows": rows})


if __name__ == "__main__":
    main()
