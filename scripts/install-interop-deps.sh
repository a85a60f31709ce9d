#!/usr/bin/env bash
# Install the dependencies of the interop tests' peers (tests/interop/):
#
# - the Fedify peer (tests/interop/fedify-peer): `npm ci` from its package-lock.json, pinned to
#   @fedify/fedify 2.3.6. Needs node >= 20 and npm.
# - the bovine peer (tests/interop/bovine-peer): its own virtualenv .cache/bovine-venv with
#   bovine-herd 0.5.19, bovine 0.5.19, http-sf 1.0.7 (newer http-sf makes bovine answer 500 to
#   RFC 9421 signatures) and hypercorn, from PyPI, apart from the project's .venv so that
#   neither disturbs the other's dependencies. Needs python3 >= 3.11 with venv.
#
# Each part is cached by a stamp file (the lock file's hash and the Node version; the pinned
# requirements and the Python version) and skipped when up to date.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
    echo "install-interop-deps: $*" >&2
    exit 1
}

# --- Fedify (npm) -----------------------------------------------------------------------------

peer="$here/tests/interop/fedify-peer"
stamp="$peer/node_modules/.fediverse-ai-install-stamp"

command -v node >/dev/null 2>&1 || die "node is not installed (Node 20+ needed)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

want="$(sha256sum "$peer/package-lock.json" | cut -d' ' -f1) node-$(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "install-interop-deps: $peer/node_modules is up to date"
else
    echo "install-interop-deps: npm ci in $peer"
    # Fedify 2.3.6 declares node >= 22 but runs on Node 20: engine warnings are expected.
    (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
fi

# --- bovine-herd (PyPI, own virtualenv) -------------------------------------------------------

bovine_requirements=(
    "bovine-herd==0.5.19"
    "bovine==0.5.19"
    "http-sf==1.0.7"
    "hypercorn==0.18.0"
)
venv="$here/.cache/bovine-venv"
bstamp="$venv/.fediverse-ai-install-stamp"
python="${PYTHON:-python3}"

command -v "$python" >/dev/null 2>&1 || die "$python is not installed (Python 3.11+ needed)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "bovine-herd needs Python 3.11+, $python is $("$python" --version)"

bwant="${bovine_requirements[*]} $("$python" --version 2>&1)"
if [ -f "$bstamp" ] && [ "$(cat "$bstamp")" = "$bwant" ] && [ -x "$venv/bin/python" ]; then
    echo "install-interop-deps: $venv is up to date"
else
    echo "install-interop-deps: installing bovine-herd into $venv"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" || {
        bash "$here/scripts/install-venv-support.sh" && "$python" -m venv "$venv"
    }
    "$venv/bin/pip" install -q --disable-pip-version-check "${bovine_requirements[@]}"
    # From inside the venv: importing bovine creates its JSON-LD cache file in the working directory.
    (cd "$venv" && "$venv/bin/python" -c 'import bovine_herd, hypercorn, http_sf') ||
        die "bovine-herd was installed but does not import"
    rm -f "$venv/bovine_jsonld_cache.sqlite"
    echo "$bwant" >"$bstamp"
fi

echo "install-interop-deps: done"
