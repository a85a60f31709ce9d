"""The image pipeline: untrusted bytes in, a clean web image plus its blurhash out.

Every image we publish or cache goes through :func:`process_image` because the
input is hostile twice over: it may attack the decoder (decompression bombs, odd
formats, truncated data) and it may leak its author (EXIF GPS, camera serial numbers,
XMP, comments). So we

* sniff the real format with Pillow and accept only JPEG, PNG, GIF and WebP, the
  formats every fediverse server and browser displays (checklist section 8);
* refuse oversized inputs by byte count, and by pixel count *before* decoding: a
  90 KB PNG can claim 6300x6300 pixels, which cost half a gigabyte to process;
* decode one frame (a large JPEG at 1/2, 1/4 or 1/8 scale), apply the EXIF
  orientation, convert to sRGB, downscale to Mastodon's 3840x2160 box, and re-encode
  from bare pixels, so no metadata chunk can survive;
* compute the blurhash from a tiny thumbnail, which costs a millisecond or two.

CPU-bound and blocking: callers in async code should run it in a worker thread.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from fediverse_ai.blurhash_encode import image_blurhash
from fediverse_ai.errors import PayloadTooLarge, UnsupportedMedia
from fediverse_ai.models import NewAttachment

__all__ = [
    "DEFAULT_LIMITS",
    "DecodedImage",
    "MediaLimits",
    "ProcessedImage",
    "decode_image",
    "make_thumbnail",
    "process_image",
]


@dataclass(frozen=True)
class MediaLimits:
    """Caps on what we are willing to decode.

    ``max_pixels`` is Mastodon's ``MAX_MATRIX_LIMIT`` (7680x4320), checked from the header
    before anything is decoded. ``max_decoded_pixels`` bounds what one decode holds in
    memory: a JPEG above it is decoded at 1/2, 1/4 or 1/8 scale by libjpeg, while PNG,
    GIF and WebP have no reduced decoding and are refused. Measured peaks: a 4096x4096 PNG
    (Mastodon's cap before 4.2) about 120 MB, 180 MB with a palette or transparency (Pillow
    converts and premultiplies copies), a WebP that size 260 MB, a 33 Mpx JPEG 120 MB.
    """

    max_input_bytes: int = 16 * 1024 * 1024
    max_pixels: int = 33_177_600
    max_decoded_pixels: int = 16_777_216
    max_width: int = 3840
    max_height: int = 2160


DEFAULT_LIMITS = MediaLimits()


@dataclass(frozen=True)
class ProcessedImage:
    """A re-encoded image with everything an AS2 ``Image`` attachment needs."""

    data: bytes
    media_type: str  # "image/jpeg" or "image/png"
    extension: str  # "jpg" or "png", without the dot
    width: int
    height: int
    blurhash: str
    sha256: str  # hex digest of ``data``; a natural content-addressed file name

    def as_attachment(self, description: str, *, ai_generated: bool = False) -> NewAttachment:
        """This image on its way into a local note, with its alt text."""
        return NewAttachment(
            data=self.data,
            media_type=self.media_type,
            extension=self.extension,
            width=self.width,
            height=self.height,
            blurhash=self.blurhash,
            description=description,
            ai_generated=ai_generated,
        )


# Pillow's JPEG opener also yields "MPO" (a JPEG with extra multi-picture frames, as many
# phones write); that is still a JPEG to us.
_ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError)
_JPEG_QUALITY = 85
_PNG_MAX_COLOURS = 256  # a PNG/GIF with at most this many colours is a graphic: keep it PNG
_QUICK_FILL = 0.75  # 1600 pixels are decoded at 800 for a 1024 box: 4x fewer, no resize


def process_image(
    data: bytes, *, limits: MediaLimits = DEFAULT_LIMITS, always_png: bool = False
) -> ProcessedImage:
    """Validate, clean and re-encode an uploaded or fetched image.

    Raises :class:`PayloadTooLarge` when ``data`` exceeds ``limits.max_input_bytes``
    and :class:`UnsupportedMedia` for anything that is not a decodable JPEG, PNG, GIF
    or WebP within ``limits.max_pixels``. The output is PNG when transparency or a
    small palette matters (or ``always_png``), otherwise a progressive JPEG.
    """
    clean = decode_image(data, limits=limits)
    image = clean.image
    as_png = always_png or clean.graphic or image.mode == "RGBA"
    return _finish(image, as_png=as_png, blurhash=image_blurhash(image))


@dataclass(frozen=True)
class DecodedImage:
    """The pipeline's clean pixels, not encoded: RGB or RGBA, sRGB, oriented, within the box."""

    image: Image.Image
    graphic: bool  # a PNG or GIF of few colours: published as PNG


def decode_image(
    data: bytes, *, limits: MediaLimits = DEFAULT_LIMITS, quick: bool = False
) -> DecodedImage:
    """The checks and cleaning of :func:`process_image`, stopping before the encode.

    For pixels read in this process and never published (a model's copy of a picture, the
    offline hints), which would otherwise be encoded only to be decoded again. ``quick``
    trades a little sharpness for time where nobody looks at the result: a JPEG may be
    decoded at a reduced scale that fills only 3/4 of the box (then not resampled at all),
    and resampling is bicubic rather than Lanczos (BENCHMARKS.md §3).
    """
    if len(data) > limits.max_input_bytes:
        raise PayloadTooLarge(f"image larger than {limits.max_input_bytes} bytes")
    source = _open(data)
    width, height = source.size
    if width < 1 or height < 1 or width * height > limits.max_pixels:
        raise UnsupportedMedia(
            f"image dimensions too large: {width}x{height} pixels,"
            f" at most {limits.max_pixels} allowed"
        )
    source_format = source.format
    icc_profile = source.info.get("icc_profile")
    if source_format in ("JPEG", "MPO"):
        box = _box_before_rotation(source, limits)
        fill = _QUICK_FILL if quick else 1.0
        scale = _jpeg_scale((width, height), box, limits.max_decoded_pixels, fill)
        if scale > 1:
            # Pillow picks the largest scale s with width // request >= s: this request
            # yields exactly ``scale``.
            source.draft(None, (max(1, width // scale), max(1, height // scale)))
    decoded_width, decoded_height = source.size
    if decoded_width * decoded_height > limits.max_decoded_pixels:
        raise UnsupportedMedia(
            f"image dimensions too large: {width}x{height} pixels; a {source_format} image"
            f" may have at most {limits.max_decoded_pixels} (a JPEG, {limits.max_pixels})"
        )
    try:
        source.load()
    except _DECODE_ERRORS as exc:
        raise UnsupportedMedia("image data is corrupt or truncated") from exc

    # Each step below replaces the one full-size image rather than copying it (dropping
    # ``source`` lets the decoded pixels go as soon as a conversion made new ones).
    image = _pre_resize_mode(_oriented(source))
    del source
    # Count colours before resampling, which invents in-between ones along every edge.
    graphic = source_format in ("PNG", "GIF") and image.getcolors(_PNG_MAX_COLOURS) is not None
    resample = Image.Resampling.BICUBIC if quick else Image.Resampling.LANCZOS
    image.thumbnail((limits.max_width, limits.max_height), resample)
    return DecodedImage(_rgb_or_rgba(_to_srgb(image, icc_profile)), graphic)


def make_thumbnail(img: ProcessedImage, max_side: int = 640) -> ProcessedImage:
    """A smaller copy for previews, same format; returns ``img`` if already small enough.

    The blurhash is reused: it describes the same picture at any size.
    """
    if max(img.width, img.height) <= max_side:
        return img
    with Image.open(io.BytesIO(img.data)) as opened:  # our own output: trusted
        image = _rgb_or_rgba(opened.copy())
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return _finish(image, as_png=img.media_type == "image/png", blurhash=img.blurhash)


def _open(data: bytes) -> Image.Image:
    """Identify the format from the bytes, reading only the header.

    Pillow warns (and above twice its cap, raises) about decompression bombs when
    opening; we turn both into a refusal instead of a log line or a crash. Before
    Python 3.14 ``catch_warnings`` swaps the process-wide filter list, so another
    thread warning at that very moment may see it; a small price for a clean refusal.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsupportedMedia("image dimensions too large") from exc
    except _DECODE_ERRORS as exc:
        raise UnsupportedMedia("not a JPEG, PNG, GIF or WebP image") from exc


def _fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled down (never up) to fit ``box``, keeping the aspect ratio."""
    scale = min(1.0, box[0] / size[0], box[1] / size[1])
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _jpeg_scale(
    size: tuple[int, int], box: tuple[int, int], max_decoded: int, fill: float = 1.0
) -> int:
    """The libjpeg reduction (1, 2, 4 or 8) to decode at: the largest that still fills
    ``fill`` of the output box, or a larger one when that would hold more than ``max_decoded``
    pixels (the picture then comes out a little smaller than the box rather than refused)."""
    want = _fit(size, box)
    scale = 1
    for s in (2, 4, 8):
        if size[0] >= s * want[0] * fill and size[1] >= s * want[1] * fill:
            scale = s
    while scale < 8 and -(-size[0] // scale) * -(-size[1] // scale) > max_decoded:
        scale *= 2
    return scale


def _exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # malformed EXIF must not make a good image undecodable
        return 1


def _box_before_rotation(image: Image.Image, limits: MediaLimits) -> tuple[int, int]:
    """The target box in the file's own orientation (EXIF 5-8 swap the axes)."""
    if _exif_orientation(image) in (5, 6, 7, 8):
        return (limits.max_height, limits.max_width)
    return (limits.max_width, limits.max_height)


def _oriented(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation to the pixels, since the EXIF itself is dropped.

    In place: otherwise Pillow returns a full copy even when there is nothing to turn."""
    # Malformed EXIF: keep the pixels as stored.
    with contextlib.suppress(Exception):
        ImageOps.exif_transpose(image, in_place=True)
    return image


def _pre_resize_mode(image: Image.Image) -> Image.Image:
    """Modes Pillow cannot resample well: palettes (nearest only) and 16-bit grey."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.mode in ("P", "PA", "1", "LA", "La") or "transparency" in image.info:
        return image.convert("RGBA")
    return image


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(image: Image.Image, icc_profile: object) -> Image.Image:
    """Convert from an embedded colour profile (e.g. Display P3) so colours survive
    dropping it; an unusable profile is ignored, as browsers do."""
    if not isinstance(icc_profile, bytes) or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(
            image, source, _srgb_profile(), outputMode="RGBA" if image.mode == "RGBA" else "RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _rgb_or_rgba(image: Image.Image) -> Image.Image:
    """RGBA only when some pixel is actually see-through; RGB otherwise."""
    if image.mode not in ("RGB", "RGBA"):
        keeps_alpha = "A" in image.getbands() or "a" in image.getbands()
        image = image.convert("RGBA" if keeps_alpha else "RGB")
    if image.mode == "RGBA":
        alpha_min, _ = image.getchannel("A").getextrema()
        if isinstance(alpha_min, (int, float)) and alpha_min >= 255:
            image = image.convert("RGB")
    return image


def _finish(image: Image.Image, *, as_png: bool, blurhash: str) -> ProcessedImage:
    """Encode from a fresh image that has pixels and nothing else: no EXIF, ICC, XMP,
    text chunks or comments can ride along from ``image.info``."""
    bare = Image.new(image.mode, image.size)
    bare.paste(image)
    out = io.BytesIO()
    if as_png:
        bare.save(out, format="PNG", optimize=False)
        media_type, extension = "image/png", "png"
    else:
        bare.convert("RGB").save(
            out, format="JPEG", quality=_JPEG_QUALITY, progressive=True, optimize=True
        )
        media_type, extension = "image/jpeg", "jpg"
    data = out.getvalue()
    return ProcessedImage(
        data=data,
        media_type=media_type,
        extension=extension,
        width=bare.width,
        height=bare.height,
        blurhash=blurhash,
        sha256=hashlib.sha256(data).hexdigest(),
    )
