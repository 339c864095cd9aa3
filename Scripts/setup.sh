#!/usr/bin/env bash
# Installs what building and testing Kognita needs on Debian, only when missing.
# Runs apt-get as root, or through sudo; then makes a Python venv for the
# independent (non-Swift) cross-checks of the wire format.
set -euo pipefail

DEBIAN_PACKAGES=(pkg-config libsodium-dev libmosquitto-dev mosquitto mosquitto-clients
                 sqlite3 libsqlite3-dev python3 python3-venv python3-pip)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python tooling for the independent cross-checks (pycose, pynacl, cbor2).
# pycose 1.1.0 requires cbor2 < 6. A failure here is not fatal: the tests that
# need these packages say they skip and why.
VENV="${KOGNITA_VENV:-.build-venv}"
PY_PACKAGES=(pynacl==1.5.0 "cbor2>=5.4,<6" pycose==1.1.0)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import nacl, cbor2, pycose' 2>/dev/null; then
  echo "setup: preparing Python venv $VENV (${PY_PACKAGES[*]})"
  if python3 -m venv "$VENV" && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"; then
    :
  else
    echo "setup: warning: could not prepare $VENV; the Python cross-check tests will be skipped" >&2
  fi
fi
