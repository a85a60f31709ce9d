#!/usr/bin/env bash
# Debian splits `python3 -m venv` into the python3-venv package; install it (root or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "python3 -m venv failed: install python3-venv (as root)" >&2; exit 1; }
  SUDO=sudo
fi
ver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q "python${ver}-venv" || $SUDO apt-get install -y -q python3-venv
