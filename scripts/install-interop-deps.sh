#!/usr/bin/env bash
# Install the Node dependencies of the interop tests' Fedify peer (tests/interop/fedify-peer):
# `npm ci` from its package-lock.json, pinned to @fedify/fedify 2.3.6.
#
# Cached: skipped when node_modules was installed from the same package-lock.json with the
# same Node version (a stamp file records the lock file's hash). Needs node >= 20 and npm.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peer="$here/tests/interop/fedify-peer"
stamp="$peer/node_modules/.fediverse-ai-install-stamp"

die() {
    echo "install-interop-deps: $*" >&2
    exit 1
}

command -v node >/dev/null 2>&1 || die "node is not installed (Node 20+ needed)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

want="$(sha256sum "$peer/package-lock.json" | cut -d' ' -f1) node-$(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "install-interop-deps: $peer/node_modules is up to date"
    exit 0
fi

echo "install-interop-deps: npm ci in $peer"
# Fedify 2.3.6 declares node >= 22 but runs on Node 20: engine warnings are expected.
(cd "$peer" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" >"$stamp"
echo "install-interop-deps: done"
