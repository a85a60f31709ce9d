"""The image pipeline with real images built by Pillow: formats, bombs, metadata, output."""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib

import blurhash
import pytest
from PIL import ExifTags, Image, ImageCms, features

from fediverse_ai import blurhash_encode
from fediverse_ai.errors import PayloadTooLarge, UnsupportedMedia
from fediverse_ai.media import MediaLimits, ProcessedImage, make_thumbnail, process_image

RED = (220, 20, 20)
BLUE = (20, 20, 220)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def reopen(processed: ProcessedImage) -> Image.Image:
    image = Image.open(io.BytesIO(processed.data))
    image.load()
    return image


def two_halves(width: int, height: int) -> Image.Image:
    """Red left half, blue right half: shows where pixels went after a rotation."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    return image


def close_to(actual: object, expected: tuple[int, ...], tolerance: int = 40) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def forged_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``; decoding it would need gigabytes."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def noisy(width: int, height: int) -> Image.Image:
    """Photo-like content with thousands of colours."""
    grey = Image.effect_noise((width, height), 80)
    return Image.merge(
        "RGB",
        (grey, grey.rotate(90, expand=False), grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    )


# --- metadata and orientation ---------------------------------------------------------


def jpeg_with_everything() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: rotate 90 degrees clockwise
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.BodySerialNumber] = "SN-12345"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 1.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 2.5)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(
        two_halves(60, 30),
        "JPEG",
        exif=exif,
        icc_profile=icc,
        comment=b"secret comment",
        xmp=b"<x:xmpmeta>secret xmp</x:xmpmeta>",
        quality=95,
    )


def test_input_really_has_the_metadata_we_expect_to_strip() -> None:
    source = Image.open(io.BytesIO(jpeg_with_everything()))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert {"exif", "icc_profile", "comment", "xmp"} <= set(source.info)


def test_exif_orientation_applied_and_all_metadata_stripped() -> None:
    processed = process_image(jpeg_with_everything())
    assert processed.media_type == "image/jpeg"
    assert (processed.width, processed.height) == (30, 60)

    out = reopen(processed)
    assert out.size == (30, 60)
    # Orientation 6: the red left edge is now the top.
    assert close_to(out.getpixel((15, 5)), RED)
    assert close_to(out.getpixel((15, 55)), BLUE)

    assert len(out.getexif()) == 0
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(out.info)
    for marker in (b"Exif", b"SpyCam", b"SN-12345", b"secret", b"xmpmeta", b"ICC_PROFILE"):
        assert marker not in processed.data


def test_png_text_chunks_and_exif_are_stripped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret text chunk")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 10, 20))
    processed = process_image(encode(image, "PNG", pnginfo=info, exif=exif))
    out = reopen(processed)
    assert not {"exif", "Comment", "icc_profile"} & set(out.info)
    assert b"secret" not in processed.data
    assert b"SpyCam" not in processed.data


# --- format verification --------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"definitely not an image",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 20,
    ],
    ids=["empty", "text", "svg", "pdf", "png-signature-only"],
)
def test_non_images_are_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedMedia):
        process_image(data)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM"])
def test_real_images_in_other_formats_are_unsupported(fmt: str) -> None:
    with pytest.raises(UnsupportedMedia):
        process_image(encode(Image.new("RGB", (16, 16), RED), fmt))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_unsupported(fmt: str) -> None:
    data = encode(noisy(200, 200), fmt)
    with pytest.raises(UnsupportedMedia):
        process_image(data[: len(data) // 2])


# --- size limits ----------------------------------------------------------------------


def test_too_many_bytes_is_payload_too_large() -> None:
    data = encode(noisy(64, 64), "PNG")
    with pytest.raises(PayloadTooLarge):
        process_image(data, limits=MediaLimits(max_input_bytes=len(data) - 1))
    assert process_image(data, limits=MediaLimits(max_input_bytes=len(data))).width == 64


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (8000, 6000),  # 48 Mpx: over our 33 Mpx cap, under Pillow's
        (10_000, 10_000),  # 100 Mpx: Pillow warns (DecompressionBombWarning)
        (30_000, 30_000),  # 900 Mpx: Pillow raises DecompressionBombError
        (1, 50_000_000),
    ],
)
def test_huge_dimensions_are_refused_from_the_header(width: int, height: int) -> None:
    with pytest.raises(UnsupportedMedia, match="too large"):
        process_image(forged_png(width, height))


def test_pixel_cap_is_configurable() -> None:
    data = encode(Image.new("RGB", (20, 20), RED), "PNG")
    with pytest.raises(UnsupportedMedia):
        process_image(data, limits=MediaLimits(max_pixels=399))
    assert process_image(data, limits=MediaLimits(max_pixels=400)).width == 20


def test_large_images_are_downscaled_keeping_aspect_ratio() -> None:
    processed = process_image(encode(noisy(400, 100), "JPEG"), limits=MediaLimits(max_width=100))
    assert (processed.width, processed.height) == (100, 25)
    assert reopen(processed).size == (100, 25)

    tall = process_image(encode(noisy(100, 4000), "PNG"))
    assert (tall.width, tall.height) == (54, 2160)


def test_downscale_box_applies_to_the_displayed_orientation() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = encode(two_halves(3000, 1000), "JPEG", exif=exif)  # displays as 1000 x 3000
    processed = process_image(data, limits=MediaLimits(max_width=400, max_height=300))
    assert (processed.width, processed.height) == (100, 300)
    out = reopen(processed)
    assert close_to(out.getpixel((50, 10)), RED)
    assert close_to(out.getpixel((50, 290)), BLUE)


def test_small_images_are_not_upscaled() -> None:
    processed = process_image(encode(noisy(7, 5), "JPEG"))
    assert (processed.width, processed.height) == (7, 5)


# --- output format --------------------------------------------------------------------


def test_transparency_is_preserved_as_png() -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste(noisy(20, 40).convert("RGBA"), (20, 0))
    processed = process_image(encode(image, "PNG"))
    assert (processed.media_type, processed.extension) == ("image/png", "png")
    out = reopen(processed)
    assert out.format == "PNG"
    assert out.mode == "RGBA"
    assert out.getpixel((5, 5))[3] == 0  # type: ignore[index]
    assert out.getpixel((30, 5))[3] == 255  # type: ignore[index]


def test_gif_with_transparency_becomes_rgba_png() -> None:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 10, 20))
    processed = process_image(encode(image, "GIF", transparency=0))
    out = reopen(processed)
    assert (processed.media_type, out.mode) == ("image/png", "RGBA")
    assert out.getpixel((15, 5))[3] == 0  # type: ignore[index]
    assert close_to(out.getpixel((5, 5)), (255, 0, 0, 255), 0)


def test_opaque_alpha_channel_is_dropped() -> None:
    processed = process_image(encode(noisy(64, 64).convert("RGBA"), "PNG"))
    assert processed.media_type == "image/jpeg"
    assert reopen(processed).mode == "RGB"


def test_few_colour_png_stays_png_and_photo_png_becomes_jpeg() -> None:
    graphic = process_image(encode(two_halves(64, 64), "PNG"))
    assert graphic.media_type == "image/png"
    assert reopen(graphic).getpixel((5, 5)) == RED  # lossless

    photo = process_image(encode(noisy(64, 64), "PNG"))
    assert (photo.media_type, photo.extension) == ("image/jpeg", "jpg")


def test_downscaled_graphic_stays_png() -> None:
    # Resampling blends the two colours along the edge into many; still a graphic.
    processed = process_image(encode(two_halves(400, 400), "PNG"), limits=MediaLimits(max_width=99))
    assert (processed.media_type, processed.width) == ("image/png", 99)


def test_jpeg_stays_jpeg_even_with_few_colours() -> None:
    assert process_image(encode(two_halves(64, 64), "JPEG")).media_type == "image/jpeg"


def test_jpeg_output_is_progressive() -> None:
    out = reopen(process_image(encode(noisy(64, 64), "JPEG")))
    assert out.info.get("progressive") or out.info.get("progression")


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (20, 20), RED), Image.new("RGB", (20, 20), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    out = reopen(process_image(data))
    assert close_to(out.getpixel((10, 10)), RED, 10)


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_webp_is_accepted() -> None:
    processed = process_image(encode(noisy(32, 16), "WEBP"))
    assert (processed.width, processed.height, processed.media_type) == (32, 16, "image/jpeg")


def test_multi_picture_jpeg_is_a_jpeg() -> None:
    data = encode(
        Image.new("RGB", (20, 20), RED),
        "MPO",
        save_all=True,
        append_images=[Image.new("RGB", (20, 20), BLUE)],
    )
    assert Image.open(io.BytesIO(data)).format == "MPO"
    out = reopen(process_image(data))
    assert (out.format, out.size) == ("JPEG", (20, 20))
    assert close_to(out.getpixel((10, 10)), RED, 10)


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (20, 20), (0, 255, 255, 0))  # red in CMYK
    out = reopen(process_image(encode(cmyk, "JPEG")))
    assert out.mode == "RGB"
    assert close_to(out.getpixel((10, 10)), (255, 0, 0), 60)


def test_sixteen_bit_greyscale_keeps_its_brightness() -> None:
    grey = Image.new("I;16", (16, 16), 32768)
    out = reopen(process_image(encode(grey, "PNG")))
    assert close_to(out.getpixel((8, 8)), (128, 128, 128), 2)


# --- blurhash and hashes --------------------------------------------------------------


def test_blurhash_sha256_and_dimensions_are_filled_in() -> None:
    processed = process_image(encode(two_halves(120, 80), "JPEG"))
    assert (processed.width, processed.height) == (120, 80)
    assert processed.sha256 == hashlib.sha256(processed.data).hexdigest()
    # 4x3 components: 1 size char ('L' = 3 + 2*9), 1 max-AC char, 4 DC chars, 11 x 2 AC.
    assert len(processed.blurhash) == 28
    assert processed.blurhash[0] == "L"
    assert blurhash.is_valid_blurhash(processed.blurhash)
    decoded = blurhash.decode(processed.blurhash, 4, 3)
    assert decoded.size == (4, 3)
    assert close_to(decoded.getpixel((0, 1)), RED, 80)
    assert close_to(decoded.getpixel((3, 1)), BLUE, 80)


@pytest.mark.parametrize("seed_image", ["noise", "halves", "solid", "gradient"])
def test_blurhash_matches_reference_implementation(seed_image: str) -> None:
    image = {
        "noise": noisy(64, 40),
        "halves": two_halves(64, 48),
        "solid": Image.new("RGB", (30, 50), (12, 200, 99)),
        "gradient": Image.linear_gradient("L").resize((64, 64)).convert("RGB"),
    }[seed_image]
    with warnings.catch_warnings():
        # blurhash-python calls Image.getdata(), deprecated in Pillow 12.
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = blurhash.encode(image.copy(), 4, 3)
    assert (
        blurhash_encode.encode_blurhash(image.tobytes(), image.width, image.height, 4, 3)
        == expected
    )


def test_processing_is_deterministic() -> None:
    data = encode(noisy(50, 50), "JPEG")
    assert process_image(data) == process_image(data)


# --- thumbnails -----------------------------------------------------------------------


def test_make_thumbnail_shrinks_and_keeps_format_and_blurhash() -> None:
    full = process_image(encode(noisy(1200, 600), "JPEG"))
    thumb = make_thumbnail(full)
    assert (thumb.width, thumb.height) == (640, 320)
    assert thumb.media_type == full.media_type
    assert thumb.blurhash == full.blurhash
    assert thumb.sha256 == hashlib.sha256(thumb.data).hexdigest()
    assert reopen(thumb).size == (640, 320)


def test_make_thumbnail_of_transparent_png_stays_png() -> None:
    image = Image.new("RGBA", (800, 400), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 400, 400))
    thumb = make_thumbnail(process_image(encode(image, "PNG")), max_side=200)
    out = reopen(thumb)
    assert (thumb.media_type, out.mode, out.size) == ("image/png", "RGBA", (200, 100))


def test_make_thumbnail_returns_small_images_unchanged() -> None:
    small = process_image(encode(noisy(100, 50), "JPEG"))
    assert make_thumbnail(small) is small
