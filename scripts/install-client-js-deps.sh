#!/usr/bin/env bash
# Install the JavaScript Mastodon clients the client API tests drive (tests/client_api/js):
# masto 8.0.0 (masto.js, the library Elk is built on), megalodon 10.3.0 (Whalebird's) and
# ws 8.19.0 (their WebSocket on Node 20), by `npm ci` from the package-lock.json. Needs node >= 20
# and npm. Cached like the interop peers: a stamp of the lock file's hash and the Node version
# in node_modules, skipped when up to date. Without node the tests are skipped, saying why.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/tests/client_api/js"
stamp="$dir/node_modules/.fediverse-ai-install-stamp"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-client-js-deps: node or npm is missing: the masto.js and megalodon tests will be skipped" >&2
    exit 0
fi
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1) node-$(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "install-client-js-deps: $dir/node_modules is up to date"
else
    echo "install-client-js-deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
fi
