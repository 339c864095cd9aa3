#!/usr/bin/env bash
# Installs what building and testing Kognita needs on Debian, only when missing.
# Runs apt-get as root, or through sudo; then makes a Python venv for the
# independent (non-Swift) cross-checks of the wire format.
set -euo pipefail
cd "$(dirname "$0")/.."

# Swift itself is not a Debian package: say what to do rather than fail later.
if ! command -v swift >/dev/null; then
  echo "setup: Swift 6.1 or later is needed and 'swift' is not on PATH." >&2
  echo "       Install it from https://www.swift.org/install/linux/ (for example with swiftly), then run this again." >&2
  exit 1
fi
swift_version=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -1)
case "$swift_version" in
  6.[1-9]*|[7-9].*) ;;
  *) echo "setup: Swift 6.1 or later is needed; found '${swift_version:-unknown}'. Install a newer toolchain from https://www.swift.org/install/linux/." >&2; exit 1 ;;
esac

DEBIAN_PACKAGES=(pkg-config libsodium-dev libmosquitto-dev mosquitto mosquitto-clients openssl
                 sqlite3 libsqlite3-dev python3 python3-venv python3-pip
                 # The agent for 64-bit Raspberry Pis (make agent ARCH=arm64), run in tests under qemu-user:
                 # the cross C toolchain and Debian's arm64 libraries, which qemu-aarch64 finds with no -L.
                 crossbuild-essential-arm64 libsodium-dev:arm64 libmosquitto-dev:arm64 qemu-user)

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
  # Multiarch: arm64 packages come from the same archive.
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  # A mirror caught mid-sync fails one index now and then; what is needed may still install.
  $SUDO apt-get update -qq || echo "setup: apt-get update reported errors (above); installing anyway" >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python tooling for the independent cross-checks (pycose, pynacl, cbor2).
# pycose 1.1.0 requires cbor2 < 6. A failure here is not fatal: the tests that
# need these packages say they skip and why.
VENV="${KOGNITA_VENV:-.build-venv}"
PY_PACKAGES=(pynacl==1.5.0 "cbor2>=5.4,<6" pycose==1.1.0 "paho-mqtt>=2,<3")
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import nacl, cbor2, pycose, paho.mqtt' 2>/dev/null; then
  echo "setup: preparing Python venv $VENV (${PY_PACKAGES[*]})"
  if python3 -m venv "$VENV" && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"; then
    :
  else
    echo "setup: warning: could not prepare $VENV (is PyPI reachable?); 'make test' requires it for the cross-checks" >&2
  fi
fi
