"""Child processes of the e2e harness, and the backstop that ends them.

Every long-running child (nginx, ``fediverse-ai run``) is started by :func:`spawn` in its own
session, so that Ctrl-C reaches only pytest, which then stops the children in order; each also
gets ``PR_SET_PDEATHSIG`` so that it goes when the test process is killed outright. Cleanups
registered here run at interpreter exit if the fixtures' ``finally`` did not run them.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

_cleanups: list[Callable[[], None]] = []


def _run_cleanups() -> None:
    while _cleanups:
        try:
            _cleanups.pop()()
        except Exception as exc:  # a backstop must not stop half-way
            print(f"e2e cleanup failed: {exc!r}")


atexit.register(_run_cleanups)


def register_cleanup(fn: Callable[[], None]) -> Callable[[], None]:
    """Run ``fn`` at interpreter exit unless :func:`unregister_cleanup` is called first."""
    _cleanups.append(fn)
    return fn


def unregister_cleanup(fn: Callable[[], None]) -> None:
    if fn in _cleanups:
        _cleanups.remove(fn)


def find_binary(name: str) -> str | None:
    """``shutil.which`` that also looks in the sbin directories a non-login PATH may lack."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the child when the test process dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 == PR_SET_PDEATHSIG


def spawn(
    argv: list[str],
    *,
    log: IO[bytes],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running child in its own session (Ctrl-C reaches only pytest, which then
    stops children in order) that dies with the test process."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def child_pids(pid: int) -> set[int]:
    """Living (not zombie) children of ``pid``, from /proc."""
    children: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rpartition(")")[2].split()[:2]
        except (OSError, ValueError):
            continue
        if int(ppid) == pid and state != "Z":
            children.add(int(stat.parent.name))
    return children


def terminate(proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float) -> None:
    """Send ``sig`` to the process by its PID, SIGKILL it (and its children) after ``timeout``."""
    if proc.poll() is not None:
        return
    children = child_pids(proc.pid)
    try:
        proc.send_signal(sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        # Children of a SIGKILLed parent (e.g. nginx workers) are orphaned, not ended.
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
