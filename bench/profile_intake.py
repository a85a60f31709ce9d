"""Profile ``fediverse-ai run`` under the intake load with py-spy (BENCHMARKS.md).

    python -m bench.profile_intake [N]

Writes ``.cache/bench-work/intake-profile.txt`` (collapsed stacks) and prints the functions
with the largest share of samples (inclusive), ours and the libraries'.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from .common import WORK, summarize
from .instance import Instance
from .load import presign, run_wrk
from .net import network


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    out = WORK / "intake-profile.txt"
    with network(50) as net:
        requests = WORK / "requests-profile"
        shutil.rmtree(requests, ignore_errors=True)
        presign(net.keys, "https://a.test/inbox", n, 2, requests, run=f"profile{time.time()}")
        inst = Instance("intake-profile", "run", env=net.ssl_env)
        inst.init()
        inst.start()
        try:
            net.route(inst.port)
            spy = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--gil",
                 "--format", "raw", "-r", "200", "-o", str(out), "-p", str(inst.procs[0].pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1)
            result = run_wrk("https://a.test/", requests, threads=2, connections=32)
            inst.wait_jobs("inbox", result.accepted, timeout=300)
            spy.send_signal(2)
            spy.wait(60)
        finally:
            inst.stop()
    print(f"accepted/s {result.rate:.0f}")
    print(summarize(out))


if __name__ == "__main__":
    main()
