#!/usr/bin/env bash
# `make test`'s test run: the whole suite on SQLite and, at the same time, on PostgreSQL
# (FEDIVERSE_AI_TEST_STORE=postgresql, issue 15), then the interop suite on each store.
#
# The two main passes run side by side because most of their time is spent waiting on
# servers, not on the CPU; the end-to-end tests of the two share port 443 and take turns
# through tests/e2e/network.py's lock. The interop passes run one after the other: each of
# their modules takes that lock anew. The SQLite pass prints as it goes; the PostgreSQL
# pass writes test-artifacts/pytest-postgresql.log, printed when both are done.
# TEST_STORES="sqlite" (or "postgresql") runs one store only.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
STORES=${TEST_STORES:-"sqlite postgresql"}
mkdir -p test-artifacts
LOG=test-artifacts/pytest-postgresql.log
status=0
pg_pid=""

cleanup() {
    if [[ -n "$pg_pid" ]] && kill -0 "$pg_pid" 2>/dev/null; then
        kill -TERM "$pg_pid" 2>/dev/null  # tests/conftest.py turns it into Ctrl-C: teardown runs
        wait "$pg_pid" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ " $STORES " == *" postgresql "* ]]; then
    echo "== PostgreSQL pass started in the background (log: $LOG)"
    FEDIVERSE_AI_TEST_STORE=postgresql "$PY" -m pytest --ignore=tests/interop >"$LOG" 2>&1 &
    pg_pid=$!
fi
if [[ " $STORES " == *" sqlite "* ]]; then
    echo "== SQLite pass"
    "$PY" -m pytest --ignore=tests/interop || status=1
fi
if [[ -n "$pg_pid" ]]; then
    wait "$pg_pid" || status=1
    pg_pid=""
    echo "== PostgreSQL pass ($LOG)"
    cat "$LOG"
fi
for store in $STORES; do
    echo "== interop on $store"
    FEDIVERSE_AI_TEST_STORE=$store "$PY" -m pytest tests/interop || status=1
done
exit $status
