"""Shared helpers: the quick mode, processes we start (and only those), RSS, tables, JSON."""

from __future__ import annotations

import collections
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / ".cache" / "bench-work"  # databases, keys, logs: large, git-ignored
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

sys.path.insert(0, str(ROOT))  # tests.e2e (the TLS network) is imported from the checkout
from tests.e2e.procs import free_port, spawn, terminate  # noqa: E402

__all__ = ["free_port"]


def pick(full: int, quick: int) -> int:
    return quick if QUICK else full


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "quick": QUICK,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --- processes ------------------------------------------------------------------------------


@dataclass
class Proc:
    """A child process this benchmark started, with its log; stopped by its own PID."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    cwd: Path | None = None
    port: int | None = None
    log_path: Path = field(init=False)
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> Proc:
        WORK.mkdir(parents=True, exist_ok=True)
        self.log_path = WORK / f"{self.name}.log"
        self._log = self.log_path.open("wb")
        self.popen = spawn(self.argv, log=self._log, env=self.env, cwd=self.cwd)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def wait_port(self, timeout: float = 60.0) -> Proc:
        assert self.port is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {self.port}:\n{self.log_tail()}")

    def rss_mb(self) -> float:
        """RSS of the process and its descendants (granian runs its workers as children)."""
        return sum(_rss_kb(pid) for pid in _tree(self.pid)) / 1024

    def cpu_seconds(self) -> float:
        return sum(_cpu_s(pid) for pid in _tree(self.pid))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen is not None:
            terminate(self.popen, timeout=15)
            self.popen = None
        if self._log is not None:
            self._log.close()
            self._log = None


def start_server(name: str, argv: list[str], env: dict[str, str], port: int, **kw: Any) -> Proc:
    return Proc(name, argv, env=env, port=port, **kw).start().wait_port()


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        todo.extend(int(k) for k in kids)
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_json(module: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``python -m module args`` in a fresh process (cold load, memory of its own) and read
    the JSON object it prints last."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


# --- numbers and output ---------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value)


def table(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"## {title}\n(no rows)\n"
    cols = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join([f"## {title}", "", line, sep, *body, ""])


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def ratio(value: float, base: float) -> float:
    return value / base if base else float("nan")


# --- profiles -------------------------------------------------------------------------------


def summarize(path: Path, top: int = 40) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        seen = set()
        for frame in stack.split(";"):
            name = frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0] + ")"
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
    lines = [f"{total} samples"]
    for name, n in inclusive.most_common(top):
        lines.append(f"{100 * n / total:5.1f}%  {name}")
    return "\n".join(lines)
