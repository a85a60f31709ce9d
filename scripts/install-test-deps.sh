#!/usr/bin/env bash
# Install the system packages the end-to-end and browser tests need: nginx and openssl
# (tests/e2e), Debian's chromium and chromedriver (tests/browser, driven by Selenium), and
# Tesseract with its English, French and Italian data (OCR hints about pictures, tests/ai).
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
# ca-certificates provides the system bundle the tests extend with their own CA.
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-test-deps: nginx, openssl, chromium and tesseract already installed"
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
# Keep the package's post-install from starting the system nginx where policy-rc.d is honoured.
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

have nginx || die "nginx still missing after install"
have openssl || die "openssl still missing after install"
have chromium || die "chromium still missing after install"
have chromedriver || die "chromedriver still missing after install"
have tesseract || die "tesseract still missing after install"
echo "install-test-deps: done"
