#!/usr/bin/env bash
# Builds kognita-agent with Embedded Swift: the same sources as the SwiftPM
# build, compiled module by module in embedded mode (no runtime metadata,
# generics specialised, the standard library compiled into the binary), for
# the small footprint a device needs. Output: .build-embedded/kognita-agent,
# an -Osize build for this machine's architecture (the toolchain must carry
# lib/swift/embedded/<arch>-unknown-linux-gnu; see Devices/README.md).
# ARCH=arm64 builds for 64-bit Raspberry Pis instead (.build-embedded/arm64/):
# the Swift modules with the toolchain's bare-metal aarch64-none-none-elf
# standard library, against Debian's arm64 glibc headers, linked by clang for
# aarch64-linux-gnu against Debian's multiarch libraries (make setup installs
# them); `qemu-aarch64 .build-embedded/arm64/kognita-agent` runs it here.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ARCH="${ARCH:-host}"
case "$ARCH" in
  host) OUT="$ROOT/.build-embedded"; TARGET="$(uname -m)-unknown-linux-gnu"; TRIPLE=""; QEMU=""; CROSS=() ;;
  arm64) OUT="$ROOT/.build-embedded/arm64"; TARGET="aarch64-none-none-elf"; TRIPLE="aarch64-linux-gnu"; QEMU=qemu-aarch64
         CROSS=(-Xcc -D__linux__ -Xcc -D__unix__ -Xcc -D_LP64 -Xcc -nostdinc -Xcc -isystem -Xcc "/usr/lib/gcc-cross/aarch64-linux-gnu/12/include" -Xcc -isystem -Xcc /usr/aarch64-linux-gnu/include -Xcc -isystem -Xcc /usr/include/aarch64-linux-gnu -Xcc -isystem -Xcc /usr/include) ;;
  *) echo "build-agent-embedded: ARCH is host, arm64 or armhf, not $ARCH" >&2; exit 2 ;;
esac
SWIFTC="${SWIFTC:-swiftc}"
# The toolchain's own resource directory (works through swiftly's proxies too).
RESOURCES=$("$SWIFTC" -print-target-info | sed -n 's/.*"runtimeResourcePath": *"\([^"]*\)".*/\1/p')
RUNTIME="$RESOURCES/embedded/$TARGET"
CC="${CC:-$(dirname "$(dirname "$RESOURCES")")/bin/clang}"
[ -d "$RUNTIME" ] || { echo "build-agent-embedded: this Swift toolchain has no embedded standard library for $TARGET ($RUNTIME); use the SwiftPM build (see Devices/README.md)" >&2; exit 1; }
rm -rf "$OUT/modules" "$OUT/objects"   # nothing stale is found or linked
mkdir -p "$OUT/modules" "$OUT/objects"

FLAGS=(-enable-experimental-feature Embedded -target "$TARGET" -Osize -wmo -parse-as-library
       -D KOGNITA_EMBEDDED -I "$OUT/modules" -I "$ROOT/Scripts/embedded/CGlibc"
       -I "$ROOT/Sources/CSodium" -I "$ROOT/Sources/CMosquitto"
       -Xcc -ffunction-sections -Xcc -fdata-sections -Xfrontend -function-sections ${CROSS[@]+"${CROSS[@]}"})

# One module: every .swift file under the given directories, except child
# processes (for the devnet and the tests), which the agent does not use and
# which need full Swift. Code that needs full Swift inside the agent's
# modules (the async streams, AgentRuntime) is under #if !KOGNITA_EMBEDDED.
EXCLUDED=(-not -path '*/KognitaSystem/Process/*')
module() {
    local name="$1"; shift
    local files=()
    while IFS= read -r -d '' file; do files+=("$file"); done < <(find "$@" -name '*.swift' "${EXCLUDED[@]}" -print0 | sort -z)
    "$SWIFTC" "${FLAGS[@]}" -module-name "$name" -emit-module -emit-module-path "$OUT/modules/$name.swiftmodule" \
        -c "${files[@]}" -o "$OUT/objects/$name.o"
}

module Glibc Scripts/embedded/Glibc.swift
module KognitaCore Sources/KognitaCore
module KognitaSystem Sources/KognitaSystem
module KognitaMQTT Sources/KognitaMQTT
module KognitaAgent Sources/KognitaAgent
"$SWIFTC" "${FLAGS[@]}" -module-name kognita_agent -c Sources/kognita-agent/AgentProgram.swift Scripts/embedded/EntryPoint.swift -o "$OUT/objects/main.o"

if [ -z "$TRIPLE" ]; then
    "$CC" --target="$TARGET" -Os -fPIC -ffunction-sections -fdata-sections \
        -c Scripts/embedded/runtime.c -o "$OUT/objects/runtime.o"
    "$SWIFTC" -enable-experimental-feature Embedded -target "$TARGET" "$OUT"/objects/*.o -o "$OUT/kognita-agent" \
        -L "$RUNTIME" -lswiftUnicodeDataTables -lmosquitto -lsodium -lm \
        -Xlinker --gc-sections -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
else
    # Cross: the Swift objects are plain ELF for the processor; C and the link
    # go through clang for the Linux triple, against Debian's multiarch libraries.
    "$CC" --target="$TRIPLE" -Os -fPIC -ffunction-sections -fdata-sections -isystem "/usr/$TRIPLE/include" \
        -isystem "/usr/include/$TRIPLE" -c Scripts/embedded/runtime.c -o "$OUT/objects/runtime.o"
    "$CC" --target="$TRIPLE" -fuse-ld=lld -B "/usr/lib/gcc-cross/$TRIPLE/12" -L "/usr/lib/gcc-cross/$TRIPLE/12" \
        -L "/usr/$TRIPLE/lib" -L "/usr/lib/$TRIPLE" "$OUT"/objects/*.o -o "$OUT/kognita-agent" \
        -L "$RUNTIME" -lswiftUnicodeDataTables -lmosquitto -lsodium -lm -lpthread \
        -Wl,--gc-sections -Wl,-z,relro -Wl,-z,now
    # For the tests on this machine: the binary under qemu-user (exec, so the pid is the agent's).
    printf '#!/bin/sh\nexec %s "$(dirname "$0")/kognita-agent" "$@"\n' "$QEMU" > "$OUT/kognita-agent-qemu"
    chmod +x "$OUT/kognita-agent-qemu"
fi
echo "$OUT/kognita-agent"
