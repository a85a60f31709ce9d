"""bovine-herd 0.5.19 under the intake load, as a peer measured in the same run.

The interop peer (``tests/interop/bovine-peer/peer.py`` with ``--bench``: no recording) runs
from its own virtualenv (``.cache/bovine-venv``, made by ``scripts/install-interop-deps.sh``)
on hypercorn, behind the same nginx/TLS front at ``https://bovine.test``. bovine has no
shared inbox, so the same kind of pre-signed Create(Note) from the same remote actors goes to
its one actor's inbox. bovine verifies each signature (fetching the actor's key from
``b.test`` once per actor), answers 202 and processes the activity in a background task;
"processed" counts those tasks done.
"""

from __future__ import annotations

import os
import shutil
import ssl
import time
import uuid
from typing import Any

import httpx

from .common import ROOT, WORK, Proc, free_port, percentile, pick, start_server
from .load import presign, run_wrk
from .net import BOVINE_HOST, Net

PYTHON = ROOT / ".cache" / "bovine-venv" / "bin" / "python"
PEER = ROOT / "tests" / "interop" / "bovine-peer" / "peer.py"
VERSION = "0.5.19"


def missing() -> str | None:
    if not PYTHON.exists():
        return f"{PYTHON.parent.parent} is missing (scripts/install-interop-deps.sh makes it)"
    return None


def _start(net: Net) -> Proc:
    port = free_port()
    workdir = WORK / "bovine"
    shutil.rmtree(workdir, ignore_errors=True)
    bundle = str(net.tls.files.bundle)
    env = dict(os.environ, SSL_CERT_FILE=bundle, REQUESTS_CA_BUNDLE=bundle, PYTHONUNBUFFERED="1")
    env.pop("SSL_CERT_DIR", None)
    env.pop("PYTHONPATH", None)
    argv = [str(PYTHON), str(PEER), "--port", str(port), "--domain", BOVINE_HOST]
    argv += ["--workdir", str(workdir), "--bench"]
    return start_server("bovine", argv, env, port, cwd=PEER.parent)


def _state(client: httpx.Client) -> dict[str, Any]:
    response = client.get(f"https://{BOVINE_HOST}/_control/state")
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def _wait_processed(client: httpx.Client, total: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _state(client)["processed"] >= total:
            return time.time()
        time.sleep(0.1)
    raise TimeoutError(f"bovine processed {_state(client)['processed']} of {total}")


def run(net: Net, ceilings: dict[str, float], threads: int, connections: int) -> dict[str, Any]:
    """One row for the intake table; ``note`` says why when bovine is not installed."""
    row: dict[str, Any] = {"app": f"bovine-herd {VERSION}", "server": "hypercorn"}
    reason = missing()
    if reason:
        return {**row, "note": f"not measured: {reason}"}
    count = pick(2_000, 400)
    proc = _start(net)
    try:
        net.route(None, bovine_port=proc.port)
        verify = ssl.create_default_context(cafile=str(net.tls.files.bundle))
        with httpx.Client(verify=verify, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:  # alice is registered before serving; the route may lag a reload
                try:
                    inbox = _state(client)["inbox"]
                    break
                except (httpx.HTTPError, KeyError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            requests = WORK / "requests-bovine"
            shutil.rmtree(requests, ignore_errors=True)
            presign(net.keys, inbox, count, threads, requests, run=uuid.uuid4().hex[:8])
            rss_idle = proc.rss_mb()
            net.tls.clear_log()
            t0 = time.time()
            result = run_wrk(
                f"https://{BOVINE_HOST}/", requests, threads=threads, connections=connections
            )
            done_at = _wait_processed(client, result.accepted, timeout=pick(600, 200))
        latencies = net.tls.post_latencies_ms()
        processed_s = done_at - t0
        base = ceilings.get("hypercorn", float("nan"))
        accepted = result.rate
        processed = count / processed_s if processed_s else 0.0
        return {
            **row,
            "n": count,
            "accepted/s": accepted,
            "processed/s": processed,
            "p50 ms": percentile(latencies, 50),
            "p99 ms": percentile(latencies, 99),
            "skipped": result.skipped,
            "errors": result.errors,
            "rss idle MB": rss_idle,
            "rss after MB": proc.rss_mb(),
            "server cpu s": proc.cpu_seconds(),
            "wrk cpu s": result.cpu_s,
            "wall s": result.seconds,
            "processed wall s": processed_s,
            "accepted/ceiling": accepted / base if base else float("nan"),
            "processed/ceiling": processed / base if base else float("nan"),
        }
    finally:
        proc.stop()
        net.route(None)
