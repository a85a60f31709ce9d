"""The offline text models on fediverse-style questions with checked answers
(``BENCH_ONLY=offline_text python -m bench``, or ``python -m bench.offline_text``).

Each model runs in a fresh process with one llama.cpp thread (the machine is shared), through
the backend the server uses (``OfflineTextBackend``: same sampling, same trimming), so the
load time and memory are what an instance pays. Two prompt layouts, both built by
``ai/prompt.py``'s ``build_messages``, differ only in the asker's question: ``plain`` (today's:
the question is the user turn) and ``wrapped`` (before issue 12: the question inside an
``<untrusted>`` block under "A message to you; answer its author directly:"). Other people's
posts in a thread are wrapped in both.

Scoring is by the checks in ``offline_text_questions.py``: a ratio of right answers. The large
model must have been built (`make run` on a machine with the memory, or `fediverse-ai
fetch-model --offline-model large`); without it only SmolLM2 is measured. About 1 CPU minute
for SmolLM2, 3 for Qwen 1.5B; ``BENCH_QUICK=1`` asks the first 10 questions only.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .common import QUICK, ROOT, child_json, table, write_result
from .offline_text_questions import QUESTIONS, Question

MAX_TOKENS = 96  # a mention's answer is a few sentences; the checked words come early
ASKER = "Alice (@alice@town.example)"
LAYOUTS = ("plain", "wrapped")
MODELS = ROOT / ".cache" / "offline-models"
LARGE_PATH = Path(os.environ.get("BENCH_LARGE_GGUF") or MODELS / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")  # fmt: skip  # noqa: E501
# Qwen2.5-Coder-0.5B-Instruct (AWQ, Q4_K_M): measured when built by hand (BENCHMARKS.md §10), not
# an option of the server: it does not beat SmolLM2 by enough for its 0.5 GB.
SIBLING_PATH = Path(os.environ.get("BENCH_SIBLING_GGUF") or MODELS / "qwen2.5-0.5b-sibling.gguf")


def _questions() -> tuple[Question, ...]:
    return QUESTIONS[:10] if QUICK else QUESTIONS


def messages_for(question: Question, layout: str) -> list[Any]:
    from fediverse_ai.ai.base import ChatMessage
    from fediverse_ai.ai.prompt import ContextPost, build_messages, untrusted_block
    from fediverse_ai.config_ai import DEFAULT_SYSTEM_PROMPT

    messages = build_messages(
        system_prompt=DEFAULT_SYSTEM_PROMPT,
        request=question.text,
        ancestors=[ContextPost(author, text, by_ai=False) for author, text in question.thread],
        context_chars=6000,
    )
    if layout == "wrapped":
        ask = "A message to you; answer its author directly:\n" + untrusted_block(
            ASKER, question.text
        )
        messages[-1] = ChatMessage("user", ask)
    return messages


def right(question: Question, answer: str) -> bool:
    found = all(re.search(p, answer, re.IGNORECASE) for p in question.must)
    return found and not any(re.search(p, answer, re.IGNORECASE) for p in question.must_not)


def _cpu_s() -> float:
    """CPU seconds of this process, all threads: on a busy machine, what an answer costs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(key: str) -> dict[str, Any]:
    """One model's figures, in this process (the child)."""
    from fediverse_ai.ai.offline_models import LARGE, SMALL, OfflineModel
    from fediverse_ai.ai.offline_text import OfflineTextBackend
    from fediverse_ai.ai.prompt import strip_markup

    sibling = OfflineModel("sibling", "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)", "", 4096)
    model, path = {"large": (LARGE, LARGE_PATH), "sibling": (sibling, SIBLING_PATH)}.get(
        key, (SMALL, None)
    )
    backend = OfflineTextBackend(model=model, model_path=path, n_threads=1)
    before = _status_mb("VmRSS")
    start = time.perf_counter()
    await backend.load()
    load_s = time.perf_counter() - start
    loaded = _status_mb("VmRSS")
    layouts: dict[str, Any] = {}
    for layout in LAYOUTS:
        answers = []
        for question in _questions():
            start, cpu = time.perf_counter(), _cpu_s()
            result = await backend.complete(messages_for(question, layout), max_tokens=MAX_TOKENS)
            seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
            text = strip_markup(result.text).strip()
            answers.append(
                {
                    "kind": question.kind,
                    "question": question.text,
                    "answer": text,
                    "right": right(question, text),
                    "seconds": round(seconds, 3),
                    "cpu_seconds": round(cpu, 3),
                    "tokens": result.tokens,
                }
            )
        layouts[layout] = answers
    await backend.aclose()
    return {
        "model": model.label,
        "load_s": load_s,
        "rss_before_mb": before,
        "rss_loaded_mb": loaded,
        "peak_rss_mb": _status_mb("VmHWM"),
        "layouts": layouts,
    }


def _child(key: str) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return child_json("bench.offline_text", "--child", key, env=env)


def summarise(measured: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for layout, answers in measured["layouts"].items():
        tokens = sum(a["tokens"] for a in answers)
        seconds = sum(a["seconds"] for a in answers)
        cpu = sum(a["cpu_seconds"] for a in answers)
        good = sum(a["right"] for a in answers)
        rows.append(
            {
                "model": measured["model"].split(" (")[0],
                "layout": layout,
                "right": f"{good}/{len(answers)}",
                "ratio": round(good / len(answers), 3),
                "answer s p50": round(statistics.median(a["seconds"] for a in answers), 2),
                "answer s max": round(max(a["seconds"] for a in answers), 2),
                "tokens/s": round(tokens / seconds, 1) if seconds else 0.0,
                "tokens/CPU-s": round(tokens / cpu, 1) if cpu else 0.0,
                "CPU s p50": round(statistics.median(a["cpu_seconds"] for a in answers), 2),
                "load s": round(measured["load_s"], 2),
                "RSS loaded MB": round(measured["rss_loaded_mb"] - measured["rss_before_mb"]),
                "peak RSS MB": round(measured["peak_rss_mb"]),
            }
        )
    return rows


def by_kind(measured: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for layout, answers in measured["layouts"].items():
        row: dict[str, Any] = {"model": measured["model"].split(" (")[0], "layout": layout}
        for kind in dict.fromkeys(a["kind"] for a in answers):
            mine = [a for a in answers if a["kind"] == kind]
            row[kind] = f"{sum(a['right'] for a in mine)}/{len(mine)}"
        rows.append(row)
    return rows


def run() -> dict[str, Any]:
    keys = ["small"] + (["large"] if LARGE_PATH.is_file() else [])
    keys += ["sibling"] if SIBLING_PATH.is_file() else []
    if "large" not in keys:
        print(f"(large model not built at {LARGE_PATH}: only SmolLM2 is measured)")
    measured = {key: _child(key) for key in keys}
    rows = [row for key in keys for row in summarise(measured[key])]
    kinds = [row for key in keys for row in by_kind(measured[key])]
    print(table(f"Offline text models: {len(_questions())} checked questions, 1 thread", rows))
    print(table("Right answers by kind", kinds))
    result = {"rows": rows, "by_kind": kinds, "max_tokens": MAX_TOKENS, "measured": measured}
    write_result("offline_text", result)
    return result


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(asyncio.run(measure(sys.argv[-1]))))
    else:
        run()
