#!/usr/bin/env bash
# build-llama-cpp.sh — build llama-cpp-python from source ONCE and install it with its server extras.
#
# What:  llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (llama.cpp's C++ compiled for a generic x86-64, GGML_NATIVE=OFF,
#        with llama.cpp's multimodal library libmtmd, LLAVA_BUILD=ON, video off) as a wheel, then
#        `llama-cpp-python[server]` (uvicorn, fastapi, sse-starlette, pydantic-settings, ...) and
#        `gguf` (the tests write their own tiny models with it) from PyPI into the venv.
# Where: the wheel goes to .cache/llama-cpp-python/<version>-<key>/ (git-ignored), where <key> is a
#        hash of the version and the CMake flags, so a wheel built with other flags is never reused;
#        $LLAMA_WHEEL_DIR overrides the folder, `--print-wheel-dir` prints it. The packages go into
#        .venv ($VENV overrides it).
# Time:  about 7 min on 2 cores for the first build, once: without libmtmd the wheel took 302 s
#        (5 min 4 s in all into a fresh venv), and libmtmd's 51 files are 27% of the compile time
#        (ninja's log of a build with them: 31 min while 8 test runs shared the 2 cores), so about
#        2 min more. Every later run reuses the wheel and takes ~10 s.
# Why libmtmd: it is what lets `llama_cpp.server --clip_model_path ... --chat_format llava-1-5`
#        see images, which tests/ai/test_llama_vision.py checks with a tiny model and projector it
#        writes. One wheel serves `make run` and the tests: a second build of llama.cpp (its own
#        llama-server, or a second wheel) would cost CI another 5 minutes or more.
# Why:   PyPI only carries llama-cpp-python as an sdist, and pip would recompile it on every fresh venv.
#        --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS, so it could hand back a wheel
#        built with other flags (e.g. -march=native); this script keeps its own cache instead.
#
# Used by the tests in tests/ai/test_openai_*.py and tests/ai/test_llama_vision.py, which start
# `python -m llama_cpp.server`.
set -euo pipefail

cd "$(dirname "$0")/.."
LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
GGUF_VERSION="${GGUF_VERSION:-0.19.0}"
VENV="${VENV:-.venv}"
PIP=("$VENV/bin/python" -m pip)
FLAGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=ON -DMTMD_VIDEO=OFF ${CMAKE_ARGS:-}"
KEY="$(printf '%s %s' "$LLAMA_CPP_PYTHON_VERSION" "$FLAGS" | sha256sum | cut -c1-12)"
WHEEL_DIR="${LLAMA_WHEEL_DIR:-.cache/llama-cpp-python/$LLAMA_CPP_PYTHON_VERSION-$KEY}"
if [ "${1:-}" = "--print-wheel-dir" ]; then
    echo "$WHEEL_DIR"
    exit 0
fi
mkdir -p "$WHEEL_DIR"

shopt -s nullglob
wheels=("$WHEEL_DIR"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl)
if [ ${#wheels[@]} -eq 0 ]; then
    echo "build-llama-cpp: building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (takes several minutes)..." >&2
    start=$(date +%s)
    echo "build-llama-cpp: CMake flags: $FLAGS" >&2
    CMAKE_ARGS="$FLAGS" \
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
        "${PIP[@]}" wheel --no-deps --no-cache-dir --no-binary llama-cpp-python -w "$WHEEL_DIR" \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    echo "build-llama-cpp: wheel built in $(( $(date +%s) - start )) s" >&2
else
    echo "build-llama-cpp: reusing ${wheels[0]}" >&2
fi

# --only-binary makes pip take our wheel from --find-links rather than PyPI's sdist;
# the [server] extras and gguf come from PyPI as usual. `--runtime` installs only the library
# (what `make run` needs for the offline model); the default adds what the tests need.
PIP_LOCAL=("${PIP[@]}" install -q --find-links "$WHEEL_DIR" --only-binary llama-cpp-python)
if [ "${1:-}" = "--runtime" ]; then
    "${PIP_LOCAL[@]}" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    check="import llama_cpp.mtmd_cpp"
else
    "${PIP_LOCAL[@]}" "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" "gguf==$GGUF_VERSION"
    check="import llama_cpp.mtmd_cpp, llama_cpp.server.app, gguf"
fi
# pip keeps an installed llama-cpp-python of the same version whatever flags built it (a venv
# from before libmtmd has none): then this wheel replaces it.
if ! "$VENV/bin/python" -c "$check" 2>/dev/null; then
    wheels=("$WHEEL_DIR"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl)
    echo "build-llama-cpp: replacing the installed llama-cpp-python with ${wheels[0]}" >&2
    "${PIP[@]}" install -q --no-deps --force-reinstall "${wheels[0]}"
fi
"$VENV/bin/python" -c "$check; print('build-llama-cpp: llama_cpp', llama_cpp.__version__, 'with libmtmd ok')"
