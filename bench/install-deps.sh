#!/usr/bin/env bash
# What `make bench` needs besides the test dependencies: wrk (Debian package), and uvloop +
# httptools in .cache/bench-site (put on PYTHONPATH only for the "uvicorn-uvloop" runs, so
# that the project's venv, where uvicorn would pick them up automatically, keeps its
# behaviour). granian, py-spy and pyinstrument come from the `bench` extra.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
        echo "bench: need root (or sudo) to install wrk" >&2; exit 1; fi
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends wrk \
        || { "${SUDO[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
             "${SUDO[@]}" apt-get install -y -qq --no-install-recommends wrk; }
fi
if [ ! -d .cache/bench-site/uvloop ]; then
    .venv/bin/pip install -q --target .cache/bench-site uvloop==0.23.0 httptools==0.9.0
fi
