#!/usr/bin/env bash
# Install the system packages the end-to-end and browser tests need: nginx and openssl
# (tests/e2e), Debian's chromium and chromedriver (tests/browser, driven by Selenium),
# Tesseract with its English, French and Italian data (OCR hints about pictures, tests/ai),
# and PostgreSQL 15 (the storage tests run on it too: tests/support/postgres.py starts a
# throw-away cluster of its own).
#
# Idempotent and quick when everything is present: apt-get runs only when a binary is
# missing. The tests start their own nginx processes, so the system nginx service that
# the Debian package starts on install is stopped and disabled again.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

die() {
    echo "install-test-deps: $*" >&2
    exit 1
}

have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

missing=()
have nginx || missing+=(nginx-light)
have openssl || missing+=(openssl)
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)
# A font with wide coverage, so that screenshots show text rather than boxes.
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
# OCR of the text in pictures (ai/ocr.py): the binary and the three languages it reads.
have tesseract || missing+=(tesseract-ocr)
for lang in eng fra ita; do
    have tesseract && tesseract --list-langs 2>/dev/null | grep -qx "$lang" \
        || missing+=("tesseract-ocr-$lang")
done
# PostgreSQL 15's server binaries (initdb, pg_ctl); the tests never use the packaged cluster.
PG_BIN=/usr/lib/postgresql/15/bin
[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] || missing+=(postgresql-15)
# ca-certificates provides the system bundle the tests extend with their own CA.
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-test-deps: nginx, openssl, chromium, tesseract and postgresql-15 already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "need root (or sudo) to install: ${missing[*]}"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"

echo "install-test-deps: installing ${missing[*]}"
# Keep the packages' post-install from starting the system nginx and PostgreSQL where
# policy-rc.d is honoured.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    added_policy=1
fi
cleanup() {
    if [ "$added_policy" -eq 1 ]; then
        "${SUDO[@]}" rm -f "$policy"
    fi
}
trap cleanup EXIT

"${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"

# Belt and braces: if the package started the system nginx anyway, stop and disable it.
if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
    "${SUDO[@]}" service nginx stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null 2>&1; then
        "${SUDO[@]}" systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
        "${SUDO[@]}" update-rc.d nginx disable >/dev/null 2>&1 || true
    fi
fi

# Likewise the cluster Debian's postgresql package creates and starts (main, port 5432).
if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        "${SUDO[@]}" pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
    fi
    "${SUDO[@]}" service postgresql stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null 2>&1; then
        "${SUDO[@]}" systemctl disable --now postgresql >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
        "${SUDO[@]}" update-rc.d postgresql disable >/dev/null 2>&1 || true
    fi
fi

have nginx || die "nginx still missing after install"
have openssl || die "openssl still missing after install"
have chromium || die "chromium still missing after install"
have chromedriver || die "chromedriver still missing after install"
have tesseract || die "tesseract still missing after install"
[ -x "$PG_BIN/initdb" ] || die "postgresql-15 ($PG_BIN/initdb) still missing after install"
echo "install-test-deps: done"
