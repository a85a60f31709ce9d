"""Read a PyTorch checkpoint (``.pth``) into numpy arrays, without torch and without trust.

A ``.pth`` is a pickle, and a pickle can name any callable (``os.system``) for the loader to
call. A model file is data, so the unpickler here resolves only the handful of names a
``state_dict`` checkpoint needs, each mapped to a stand-in of our own that builds plain
values; anything else is refused before it is looked up. Tensors come back as numpy arrays
copied out of the raw storage bytes, with their offsets, shapes and strides checked against
the storage they claim to view.

Both layouts torch writes are read: the legacy one (before torch 1.6: a magic-number pickle,
a protocol pickle, a sys-info pickle, the state-dict pickle, a pickle listing the storage
keys, then each storage as an 8-byte element count and its bytes) and the zip one
(``<name>/data.pkl`` plus one ``<name>/data/<key>`` entry per storage).
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from ..errors import FediverseError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_MAX_ELEMENTS = 64 * 1024 * 1024  # 256 MB of float32: far above any model we ship
_MAX_KEYS = 10_000


class WeightsError(FediverseError):
    """A checkpoint we refuse to read: unknown names in its pickle, or inconsistent tensors."""

    default_message = "unreadable model weights"


@dataclass(frozen=True)
class _StorageType:
    dtype: str  # numpy dtype, little-endian


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: str
    elements: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: object, offset: object, shape: object, stride: object, *_rest: object
) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise WeightsError("a tensor whose storage is not a storage")
    if not isinstance(offset, int) or not _int_tuple(shape) or not _int_tuple(stride):
        raise WeightsError("a tensor with a malformed offset, shape or stride")
    assert isinstance(shape, tuple) and isinstance(stride, tuple)  # narrowed by _int_tuple
    if len(shape) != len(stride):
        raise WeightsError("a tensor whose shape and stride differ in rank")
    return _TensorRef(storage, offset, shape, stride)


def _int_tuple(value: object) -> bool:
    return isinstance(value, tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


# The only names a checkpoint may use: everything else is refused, never imported.
_ALLOWED: dict[tuple[str, str], Callable[..., Any] | _StorageType] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch", "FloatStorage"): _StorageType("<f4"),
    ("torch", "HalfStorage"): _StorageType("<f2"),
    ("torch", "DoubleStorage"): _StorageType("<f8"),
    ("torch", "LongStorage"): _StorageType("<i8"),
    ("torch", "IntStorage"): _StorageType("<i4"),
    ("torch", "ByteStorage"): _StorageType("u1"),
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise WeightsError(f"the checkpoint names {module}.{name}, which we refuse") from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        # ('storage', storage_type, key, location, elements[, view_metadata])
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise WeightsError("a persistent id that is not a storage")
        kind, key, elements = pid[1], pid[2], pid[4]
        if not isinstance(kind, _StorageType) or not isinstance(key, str):
            raise WeightsError("a storage of an unknown type")
        if not isinstance(elements, int) or not 0 <= elements <= _MAX_ELEMENTS:
            raise WeightsError("a storage of an impossible size")
        ref = _StorageRef(key, kind.dtype, elements)
        if self.storages.setdefault(key, ref) != ref:
            raise WeightsError("one storage key declared twice, differently")
        return ref


def load_state_dict(data: bytes) -> dict[str, np.ndarray]:
    """Read a ``state_dict`` checkpoint's bytes into ``{name: array}``; raise ``WeightsError``.

    Nothing in the file is executed: only the names in ``_ALLOWED`` resolve, and every
    tensor is bounds-checked against its storage before it is copied out.
    """
    try:
        if data[:2] == b"PK":
            return _load_zip(data)
        return _load_legacy(data)
    except WeightsError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError) as exc:
        raise WeightsError(f"a malformed checkpoint ({type(exc).__name__})") from None
    except (AttributeError, IndexError, struct.error, zipfile.BadZipFile) as exc:
        raise WeightsError(f"a malformed checkpoint ({type(exc).__name__})") from None


def _load_legacy(data: bytes) -> dict[str, np.ndarray]:
    stream = io.BytesIO(data)
    magic = _Unpickler(stream).load()
    if magic != _LEGACY_MAGIC:
        raise WeightsError("not a PyTorch checkpoint")
    _Unpickler(stream).load()  # protocol version
    _Unpickler(stream).load()  # sys info (endianness, type sizes)
    main = _Unpickler(stream)
    root = main.load()
    keys = _Unpickler(stream).load()
    if not (isinstance(keys, list) and len(keys) <= _MAX_KEYS):
        raise WeightsError("a malformed storage list")
    buffers: dict[str, np.ndarray] = {}
    for key in keys:
        ref = main.storages.get(key) if isinstance(key, str) else None
        if ref is None:
            raise WeightsError("a storage that no tensor declared")
        (count,) = struct.unpack("<q", _read_exactly(stream, 8))
        if count != ref.elements:
            raise WeightsError("a storage whose size disagrees with its declaration")
        size = np.dtype(ref.dtype).itemsize * count
        buffers[key] = np.frombuffer(_read_exactly(stream, size), dtype=ref.dtype)
    return _tensors(root, buffers)


def _load_zip(data: bytes) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise WeightsError("a zip checkpoint without exactly one data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        main = _Unpickler(io.BytesIO(archive.read(pickles[0])))
        root = main.load()
        buffers: dict[str, np.ndarray] = {}
        for key, ref in main.storages.items():
            if not key.isalnum():
                raise WeightsError("a storage key that is not a plain name")
            raw = archive.read(f"{prefix}data/{key}")
            if len(raw) != np.dtype(ref.dtype).itemsize * ref.elements:
                raise WeightsError("a storage whose size disagrees with its declaration")
            buffers[key] = np.frombuffer(raw, dtype=ref.dtype)
    return _tensors(root, buffers)


def _read_exactly(stream: io.BytesIO, size: int) -> bytes:
    chunk = stream.read(size)
    if len(chunk) != size:
        raise WeightsError("a truncated checkpoint")
    return chunk


def _tensors(root: object, buffers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(root, dict):
        raise WeightsError("a checkpoint that is not a state_dict")
    out: dict[str, np.ndarray] = {}
    for name, ref in root.items():
        if not isinstance(name, str) or not isinstance(ref, _TensorRef):
            raise WeightsError("a state_dict entry that is not a named tensor")
        out[name] = _view(ref, buffers[ref.storage.key])
    return out


def _view(ref: _TensorRef, buffer: np.ndarray) -> np.ndarray:
    if any(n < 0 for n in ref.shape) or any(s < 0 for s in ref.stride) or ref.offset < 0:
        raise WeightsError("a tensor with a negative shape, stride or offset")
    if 0 in ref.shape:
        return np.zeros(ref.shape, dtype=buffer.dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True))
    if last >= buffer.size:
        raise WeightsError("a tensor that reaches past its storage")
    item = buffer.itemsize
    view = np.lib.stride_tricks.as_strided(
        buffer[ref.offset :],
        shape=ref.shape,
        strides=tuple(s * item for s in ref.stride),
        writeable=False,
    )
    return np.array(view, dtype=buffer.dtype)  # a copy, so the file's bytes can be freed
