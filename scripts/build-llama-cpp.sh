#!/usr/bin/env bash
# build-llama-cpp.sh — build llama-cpp-python from source ONCE and install it with its server extras.
#
# What:  llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (llama.cpp's C++ compiled for a generic x86-64, GGML_NATIVE=OFF,
#        without the multimodal "mtmd/llava" library, which the tests do not use) as a wheel, then
#        `llama-cpp-python[server]` (uvicorn, fastapi, sse-starlette, pydantic-settings, ...) and
#        `gguf` (the tests write their own tiny model with it) from PyPI into the venv.
# Where: the wheel goes to .cache/wheels/ (git-ignored; $LLAMA_WHEEL_DIR overrides it); the packages
#        into .venv ($VENV overrides it).
# Time:  about 5 min on 2 cores for the first build (measured: 302 s for the wheel, 5 min 4 s in all
#        into a fresh venv); every later run reuses the wheel and takes ~10 s.
# Why:   PyPI only carries llama-cpp-python as an sdist, and pip would recompile it on every fresh venv.
#        --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS, so it could hand back a wheel
#        built with other flags (e.g. -march=native); this script keeps its own cache instead.
#
# Used by the tests in tests/ai/test_openai_*.py, which start `python -m llama_cpp.server`.
set -euo pipefail

cd "$(dirname "$0")/.."
LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
GGUF_VERSION="${GGUF_VERSION:-0.19.0}"
VENV="${VENV:-.venv}"
PIP=("$VENV/bin/python" -m pip)
WHEEL_DIR="${LLAMA_WHEEL_DIR:-.cache/wheels}"
mkdir -p "$WHEEL_DIR"

shopt -s nullglob
wheels=("$WHEEL_DIR"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl)
if [ ${#wheels[@]} -eq 0 ]; then
    echo "build-llama-cpp: building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (takes several minutes)..." >&2
    start=$(date +%s)
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" \
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
if [ "${1:-}" = "--runtime" ]; then
    "${PIP[@]}" install -q --find-links "$WHEEL_DIR" --only-binary llama-cpp-python \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    "$VENV/bin/python" -c "import llama_cpp; print('build-llama-cpp: llama_cpp', llama_cpp.__version__, 'ok')"
    exit 0
fi
"${PIP[@]}" install -q --find-links "$WHEEL_DIR" --only-binary llama-cpp-python \
    "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" "gguf==$GGUF_VERSION"
"$VENV/bin/python" -c "import llama_cpp, llama_cpp.server.app, gguf; print('build-llama-cpp: llama_cpp', llama_cpp.__version__, 'ok')"
