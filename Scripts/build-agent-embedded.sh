#!/usr/bin/env bash
# Builds kognita-agent with Embedded Swift: the same sources as the SwiftPM
# build, compiled module by module in embedded mode (no runtime metadata,
# generics specialised, the standard library compiled into the binary), for
# the small footprint a device needs. Output: .build-embedded/kognita-agent,
# an -Osize build for this machine's architecture (the toolchain must carry
# lib/swift/embedded/<arch>-unknown-linux-gnu; see Devices/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/.build-embedded"
TARGET="$(uname -m)-unknown-linux-gnu"
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
       -Xcc -ffunction-sections -Xcc -fdata-sections -Xfrontend -function-sections)

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

"$CC" --target="$TARGET" -Os -fPIC -ffunction-sections -fdata-sections \
    -c Scripts/embedded/runtime.c -o "$OUT/objects/runtime.o"

"$SWIFTC" -enable-experimental-feature Embedded -target "$TARGET" "$OUT"/objects/*.o -o "$OUT/kognita-agent" \
    -L "$RUNTIME" -lswiftUnicodeDataTables -lmosquitto -lsodium -lm \
    -Xlinker --gc-sections -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
echo "$OUT/kognita-agent"
