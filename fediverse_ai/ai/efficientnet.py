"""EfficientNet-Lite0's forward pass in numpy, from the weights of a ``state_dict``.

EfficientNet-Lite is EfficientNet-B0 made for small devices: no squeeze-and-excitation,
ReLU6 instead of swish, a fixed stem (32) and head (1280). Seven stages of inverted
bottlenecks (MBConv) follow the table in ``STAGES``; the checkpoint's tensor names and
shapes are checked against it when the network is built, so a file of another layout is
refused instead of classifying nonsense. Batch norms are folded into the convolutions once.

The arrays are channels-last (height, width, channels), so that every 1x1 convolution, where
nearly all the arithmetic is, is a single matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .torch_weights import WeightsError

# (kernel, stride, expansion, output channels, repeats), EfficientNet-B0's stages.
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
STEM = 32
HEAD = 1280
CLASSES = 1000
SIZE = 224
_BN_EPS = 1e-3  # TensorFlow's, which these weights were trained with


@dataclass(frozen=True)
class _Conv:
    weight: np.ndarray  # 1x1: (in, out); depthwise: (k, k, channels); stem: (k*k*in, out)
    bias: np.ndarray
    kernel: int
    stride: int


@dataclass(frozen=True)
class _Block:
    expand: _Conv | None
    depthwise: _Conv
    project: _Conv
    residual: bool


class EfficientNetLite0:
    """The network, built from a ``state_dict``; ``logits(image)`` for one 224x224 RGB image."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self._w = weights
        self._used: set[str] = set()  # every tensor must be used: a file with more is not ours
        self._stem = self._conv("_conv_stem", "_bn0", kind="full", stride=2)
        blocks: list[_Block] = []
        channels = STEM
        for kernel, stride, expansion, out, repeats in STAGES:
            for i in range(repeats):
                blocks.append(
                    self._block(
                        len(blocks), channels, out, kernel, stride if i == 0 else 1, expansion
                    )
                )
                channels = out
        self._blocks = tuple(blocks)
        self._head = self._conv("_conv_head", "_bn1", kind="pointwise", stride=1)
        fc = self._take("_fc.weight", (CLASSES, HEAD))
        self._fc = np.ascontiguousarray(fc.T)
        self._fc_bias = self._take("_fc.bias", (CLASSES,))
        unused = set(weights) - self._used
        if unused:
            raise WeightsError(
                f"the checkpoint has tensors the network lacks: {sorted(unused)[:3]}"
            )
        del self._w

    def _take(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        array = self._w.get(name)
        if array is None or array.shape != shape:
            found = None if array is None else array.shape
            raise WeightsError(f"{name}: expected shape {shape}, found {found}")
        self._used.add(name)
        return array.astype(np.float32)

    def _conv(self, conv: str, bn: str, *, kind: str, stride: int) -> _Conv:
        raw = self._w.get(f"{conv}.weight")
        if raw is None or raw.ndim != 4:
            raise WeightsError(f"{conv}.weight: missing or not a convolution")
        out, ins, k, _ = raw.shape
        weight = self._take(f"{conv}.weight", (out, ins, k, k))
        gamma = self._take(f"{bn}.weight", (out,))
        beta = self._take(f"{bn}.bias", (out,))
        mean = self._take(f"{bn}.running_mean", (out,))
        var = self._take(f"{bn}.running_var", (out,))
        self._used.add(f"{bn}.num_batches_tracked")
        scale = gamma / np.sqrt(var + _BN_EPS)
        bias = (beta - mean * scale).astype(np.float32)
        folded = weight * scale[:, None, None, None]
        if kind == "pointwise":
            matrix = folded[:, :, 0, 0].T
        elif kind == "depthwise":
            matrix = folded[:, 0].transpose(1, 2, 0)
        else:  # im2col order: (row, column, input channel) then output channel
            matrix = folded.transpose(2, 3, 1, 0).reshape(k * k * ins, out)
        return _Conv(np.ascontiguousarray(matrix, dtype=np.float32), bias, k, stride)

    def _block(
        self, index: int, ins: int, out: int, kernel: int, stride: int, expansion: int
    ) -> _Block:
        prefix = f"_blocks.{index}"
        mid = ins * expansion
        expand = None
        if expansion != 1:
            expand = self._conv(
                f"{prefix}._expand_conv", f"{prefix}._bn0", kind="pointwise", stride=1
            )
            _expect(expand.weight.shape, (ins, mid), f"{prefix}._expand_conv")
        depthwise = self._conv(
            f"{prefix}._depthwise_conv", f"{prefix}._bn1", kind="depthwise", stride=stride
        )
        _expect(depthwise.weight.shape, (kernel, kernel, mid), f"{prefix}._depthwise_conv")
        project = self._conv(
            f"{prefix}._project_conv", f"{prefix}._bn2", kind="pointwise", stride=1
        )
        _expect(project.weight.shape, (mid, out), f"{prefix}._project_conv")
        return _Block(expand, depthwise, project, residual=stride == 1 and ins == out)

    def logits(self, image: np.ndarray) -> np.ndarray:
        """Scores for the 1000 ImageNet classes of one (224, 224, 3) float32 image in [-1, 1]."""
        x = _relu6(_full_conv(image, self._stem))
        for block in self._blocks:
            y = x
            if block.expand is not None:
                y = _relu6(_pointwise(y, block.expand))
            y = _relu6(_depthwise(y, block.depthwise))
            y = _pointwise(y, block.project)
            x = x + y if block.residual else y
        x = _relu6(_pointwise(x, self._head))
        pooled = x.mean(axis=(0, 1))
        result: np.ndarray = pooled @ self._fc + self._fc_bias
        return result


def _expect(found: tuple[int, ...], wanted: tuple[int, ...], name: str) -> None:
    if found != wanted:
        raise WeightsError(f"{name}: expected {wanted}, found {found}")


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0, out=x)


def _pointwise(x: np.ndarray, conv: _Conv) -> np.ndarray:
    h, w, c = x.shape
    out: np.ndarray = (x.reshape(h * w, c) @ conv.weight + conv.bias).reshape(h, w, -1)
    return out


def _same_pad(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, int, int]:
    """TensorFlow's 'SAME' padding, which is uneven for stride 2: the weights expect it."""
    h, w, _ = x.shape
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + kernel - h, 0)
    pad_w = max((out_w - 1) * stride + kernel - w, 0)
    padded = np.pad(x, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    return padded, out_h, out_w


def _depthwise(x: np.ndarray, conv: _Conv) -> np.ndarray:
    k, s = conv.kernel, conv.stride
    padded, out_h, out_w = _same_pad(x, k, s)
    out = np.empty((out_h, out_w, x.shape[2]), dtype=np.float32)
    out[:] = conv.bias
    for i in range(k):
        for j in range(k):
            window = padded[i : i + s * out_h : s, j : j + s * out_w : s]
            out += window * conv.weight[i, j]
    return out


def _full_conv(x: np.ndarray, conv: _Conv) -> np.ndarray:
    k, s = conv.kernel, conv.stride
    padded, out_h, out_w = _same_pad(x, k, s)
    columns = [
        padded[i : i + s * out_h : s, j : j + s * out_w : s] for i in range(k) for j in range(k)
    ]
    patches = np.concatenate(columns, axis=2).reshape(out_h * out_w, -1)
    out: np.ndarray = (patches @ conv.weight + conv.bias).reshape(out_h, out_w, -1)
    return out
